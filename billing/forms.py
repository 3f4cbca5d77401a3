from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_countries import countries

from . import vat


class BillingDetailsForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    country = forms.ChoiceField(label=_("Country"))
    vat_id = forms.CharField(
        label=_("VAT ID"),
        max_length=20,
        required=False,
        help_text=_("Only for businesses in the European Union, with the country prefix (for example DE123456789)."),
    )
    address = forms.CharField(label=_("Address"), max_length=300)
    city = forms.CharField(label=_("City"), max_length=100)
    postal_code = forms.CharField(label=_("ZIP / postal code"), max_length=20)
    state = forms.CharField(label=_("State / province"), max_length=100, required=False)
    phone = forms.RegexField(
        label=_("Phone"),
        max_length=32,
        regex=r"^\+?[0-9 ()./-]{5,31}$",
        error_messages={"invalid": _("Enter a phone number: digits, spaces and an optional leading +.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        country_field = self.fields["country"]
        assert isinstance(country_field, forms.ChoiceField)
        country_field.choices = [("", "---------"), *list(countries)]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "country" in data:
            try:
                data["vat_id"] = vat.validate_vat_id(vat_id=data.get("vat_id", ""), country=data["country"])
            except ValidationError as exc:
                self.add_error("vat_id", exc)
        return data


class BraintreePaymentForm(forms.Form):
    payment_method_nonce = forms.CharField(max_length=200, widget=forms.HiddenInput)


class InvoicePeriodForm(forms.Form):
    """The period whose invoices a billing clerk downloads (a month, a quarter, a year: both days included)."""

    MAX_DAYS = 366

    start = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), input_formats=["%Y-%m-%d"]
    )
    end = forms.DateField(
        label=_("To (included)"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise ValidationError(_("The period ends before it starts."))
            if (end - start).days >= self.MAX_DAYS:
                raise ValidationError(_("Choose a period of at most one year."))
        return data
