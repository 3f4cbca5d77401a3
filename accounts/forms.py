from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from django_countries import countries

from . import hooks, services
from .models import SupportInquiry, User

NAME_MAX_LENGTH = 150
_NAME_PUNCTUATION = frozenset(" -'\u2019.")


def validate_person_name(value: str) -> str:
    """A person's name: letters, spaces, hyphens, apostrophes and dots; no markup, no control characters."""
    value = " ".join(value.split())
    if not value:
        raise ValidationError(_("This field is required."), code="required")
    if len(value) > NAME_MAX_LENGTH:
        raise ValidationError(
            ngettext_lazy(
                "Please use at most %(limit)d character.", "Please use at most %(limit)d characters.", "limit"
            ),
            code="max_length",
            params={"limit": NAME_MAX_LENGTH},
        )
    for char in value:
        if char not in _NAME_PUNCTUATION and unicodedata.category(char)[0] not in "LM":
            raise ValidationError(
                _("A name may contain letters, spaces, hyphens, apostrophes and dots only."), code="invalid"
            )
    return value


class PersonNameField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        # The browser limit is a courtesy; the server check in clean() is the rule.
        kwargs.setdefault("max_length", NAME_MAX_LENGTH * 2)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        return validate_person_name(value) if value else value


def country_choices() -> list[tuple[str, str]]:
    return [("", _("Choose your country"))] + [(code, name) for code, name in countries]


def _policy_link() -> SafeString:
    """The sign-up hint: a link to the privacy policy (not its address printed as text)."""
    return format_html(
        '<a href="{}">{}</a> {}',
        reverse("privacy_policy"),
        _("Read the privacy policy"),
        _("(what we collect, why, for how long, and your rights)."),
    )


class SignupDetailsForm(forms.Form):
    """The fields allauth's sign-up forms (local and social) add to email and password.

    The country is not asked here: the age gate (consent) asked it before any other personal data,
    decided with it, and the adapter's save_user copies it to the user.
    """

    first_name = PersonNameField(label=_("First name"), widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = PersonNameField(label=_("Last name"), widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    accept_policy = forms.BooleanField(
        label=_("I have read and accept the privacy policy"),
        help_text=lazy(_policy_link, SafeString)(),
        error_messages={"required": _("Please accept the privacy policy to create an account.")},
    )

    def signup(self, request: HttpRequest, user: User) -> None:
        # allauth has already saved the user with these fields (the adapter's save_user copies
        # cleaned data and records the age gate's decision). The person accepted the policy in force:
        # privacy's hook records which version.
        hooks.created(user)


class ProfileForm(forms.Form):
    def __init__(self, *args: Any, may_receive_updates: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if not may_receive_updates:
            # children and school accounts receive no marketing email: the choice is not offered
            del self.fields["product_updates"]

    first_name = PersonNameField(label=_("First name"))
    last_name = PersonNameField(label=_("Last name"))
    country = forms.ChoiceField(
        label=_("Country of residence"),
        choices=country_choices,
        error_messages={"invalid_choice": _("Please choose a country from the list.")},
    )
    product_updates = forms.BooleanField(
        label=_("Email me occasional product updates"),
        required=False,
        help_text=_("No advertising, ever. You can turn this off at any time."),
    )

    def save(self, *, user: User) -> User:
        return services.user_update_profile(user=user, **{"product_updates": False, **self.cleaned_data})


# --- Data subject rights: deletion and support ---


class AccountDeletionPasswordForm(forms.Form):
    """Re-enter the password to confirm the deletion of the account."""

    password = forms.CharField(
        label=_("Your password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    understood = forms.BooleanField(
        label=_("I understand that my account and its data will be deleted for good after the grace period."),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError(_("This is not your current password."), code="wrong_password")
        return password


class AccountDeletionConfirmForm(forms.Form):
    """The last confirmation once the person signed in again through their linked service."""

    understood = forms.BooleanField(
        label=_("I understand that my account and its data will be deleted for good after the grace period."),
    )


class SupportInquiryForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150)
    email = forms.EmailField(label=_("Email address for our answer"))
    topic = forms.ChoiceField(label=_("Topic"), choices=SupportInquiry.Topic.choices)
    message = forms.CharField(label=_("Message"), max_length=5000, widget=forms.Textarea(attrs={"rows": 8}))
