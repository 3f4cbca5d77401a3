from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CookieChoice


class CookieChoiceForm(forms.Form):
    choice = forms.ChoiceField(
        label=_("Cookies on this site"),
        choices=CookieChoice.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please choose one of the options."),
            "invalid_choice": _("Please choose one of the options."),
        },
    )
