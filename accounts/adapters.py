"""The only place django-allauth is customised (DESIGN.md convention 6)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.forms import BaseForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import User


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user: Any, form: BaseForm, commit: bool = True) -> Any:
        country = form.cleaned_data.get("country")
        if country:
            user.country = country
        return super().save_user(request, user, form, commit=commit)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    error_messages = {
        **DefaultSocialAccountAdapter.error_messages,
        "no_password": _(
            "This service is the only way you can sign in. Set a password for your account first, "
            "then disconnect it."
        ),
        "no_verified_email": _(
            "This service is the only way you can sign in and your account has no verified email "
            "address. Add and verify an email address first, then disconnect it."
        ),
    }

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # Always show the sign-up form: the person confirms their name and gives their country.
        return False

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> User:
        """Take only the name and the email from a provider; nothing else it sends is kept."""
        minimal = {key: data.get(key) for key in ("first_name", "last_name", "name", "email")}
        user: User = super().populate_user(request, sociallogin, minimal)
        return user
