from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.translation import gettext_lazy as _

from accounts.forms import country_choices

from .constants import SchoolRequest
from .models import AgeRule

OLDEST_AGE = 120
# Names of the subdivisions that have their own rule (the age rules table holds codes only).
SUBDIVISION_NAMES = {"CA-QC": _("Québec (Canada)")}


def _day_choices() -> list[tuple[str, Any]]:
    return [("", _("Day"))] + [(str(d), str(d)) for d in range(1, 32)]


def _month_choices() -> list[tuple[str, Any]]:
    return [("", _("Month"))] + [(str(m), MONTHS[m]) for m in range(1, 13)]


def _year_choices() -> list[tuple[str, Any]]:
    this_year = timezone.now().year
    return [("", _("Year"))] + [(str(y), str(y)) for y in range(this_year, this_year - OLDEST_AGE - 1, -1)]


def _subdivision_choices() -> list[tuple[str, Any]]:
    codes = (
        AgeRule.objects.filter(superseded_at__isnull=True)
        .exclude(subdivision="")
        .order_by("subdivision")
        .values_list("subdivision", flat=True)
    )
    return [("", _("None of these"))] + [(code, SUBDIVISION_NAMES.get(code, code)) for code in codes]


class AgeGateForm(forms.Form):
    """The neutral age screen: no value preselected, nothing that hints at an age that matters."""

    day = forms.TypedChoiceField(label=_("Day"), choices=_day_choices, coerce=int)
    month = forms.TypedChoiceField(label=_("Month"), choices=_month_choices, coerce=int)
    year = forms.TypedChoiceField(label=_("Year"), choices=_year_choices, coerce=int)
    country = forms.ChoiceField(
        label=_("Country of residence"),
        choices=country_choices,
        error_messages={"invalid_choice": _("Please choose a country from the list.")},
    )
    subdivision = forms.ChoiceField(
        label=_("Province or region, if it is in this list"),
        choices=_subdivision_choices,
        required=False,
        error_messages={"invalid_choice": _("Please choose a region from the list.")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day, month, year = data.get("day"), data.get("month"), data.get("year")
        if day and month and year:
            try:
                birth_date = datetime.date(year, month, day)
            except ValueError:
                raise ValidationError(
                    _("This date does not exist. Please check the day and month."), code="date"
                ) from None
            if birth_date > timezone.now().date():
                raise ValidationError(_("Please enter your real date of birth."), code="future")
            data["birth_date"] = birth_date
        country, subdivision = data.get("country"), data.get("subdivision")
        if country and subdivision and not subdivision.startswith(f"{country}-"):
            self.add_error("subdivision", _("This region is not in the country you chose."))
        return data


class ChildSignupForm(forms.Form):
    """All a child enters: a login, a password and a parent's email. Nothing else."""

    login = forms.CharField(
        label=_("Username or email address"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    password1 = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    password2 = forms.CharField(
        label=_("Password (again)"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    parent_email = forms.EmailField(
        label=_("Your parent's or guardian's email address"),
        help_text=_("We ask them for permission. We keep nothing else about you until they answer."),
    )

    def clean_login(self) -> str:
        login = " ".join(self.cleaned_data["login"].split())
        if "@" in login:
            validate_email(login)
        else:
            UnicodeUsernameValidator(message=_("A username may contain letters, digits and @ . + - _ only."))(login)
        return login

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password1, password2 = data.get("password1"), data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords are not the same."))
        elif password1:
            try:
                password_validation.validate_password(password1)
            except ValidationError as error:
                self.add_error("password1", error)
        login, parent_email = data.get("login"), data.get("parent_email")
        if login and parent_email and login.casefold() == parent_email.strip().casefold():
            self.add_error("parent_email", _("Your parent's email address must be different from yours."))
        return data


class ParentDecisionForm(forms.Form):
    ACTIONS = (("approve", _("Approve")), ("refuse", _("Refuse")))

    action = forms.ChoiceField(choices=ACTIONS, error_messages={"invalid_choice": _("Please choose an answer.")})
    guardian = forms.BooleanField(
        label=_("I am this child's parent or legal guardian."),
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "approve" and not data.get("guardian"):
            self.add_error("guardian", _("Please confirm that you are the child's parent or legal guardian."))
        return data


# --- the parent portal -----------------------------------------------------------------------------------
class PortalSignInForm(forms.Form):
    email = forms.EmailField(
        label=_("The email address you gave your consent with"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ChildPasswordForm(forms.Form):
    fields_memo = True  # always empty on the child's page: see mindomo.templatetags.mindomo_forms
    password1 = forms.CharField(
        label=_("New password for your child"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("The new password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", _("The two passwords are not the same."))
        return data


class ChildDeleteForm(forms.Form):
    ACTIONS = (("delete", _("Delete")), ("withdraw", _("Withdraw consent")))

    action = forms.ChoiceField(choices=ACTIONS, error_messages={"invalid_choice": _("Please choose an answer.")})
    confirm = forms.BooleanField(
        label=_("I understand that my child's account and all its data are deleted now and cannot be recovered."),
        error_messages={"required": _("Please confirm that you want the account deleted.")},
    )


class GuardianInviteForm(forms.Form):
    fields_memo = True  # always empty on the child's page: see mindomo.templatetags.mindomo_forms
    email = forms.EmailField(label=_("The second parent's or guardian's email address"))


class SchoolRequestForm(forms.Form):
    fields_memo = True  # fixed choices: see mindomo.templatetags.mindomo_forms
    field_order = ["message", "request_kind"]

    request_kind = forms.ChoiceField(
        label=_("I ask for"),
        choices=SchoolRequest.CHOICES,
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": _("Please choose what you ask for.")},
    )

    message = forms.CharField(
        label=_("Message to the school (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AgeUpForm(forms.Form):
    accept = forms.BooleanField(
        label=_("I have read the privacy policy and I accept it."),
        error_messages={"required": _("Please accept the privacy policy to continue.")},
    )


class SchoolRequestByLoginForm(SchoolRequestForm):
    """For a parent whose child's account a school created: the portal has no address of theirs."""

    field_order = ["message", "email", "login", "request_kind"]

    email = forms.EmailField(label=_("Your email address"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    login = forms.CharField(label=_("Your child's username"), max_length=150)
