"""The only place django-allauth is customised (DESIGN.md convention 6)."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers import registry as provider_registry
from allauth.socialaccount.providers.base import Provider
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
            "This service is the only way you can sign in. Set a password for your account first, then disconnect it."
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

    def get_provider(self, request: HttpRequest, provider: str, client_id: str | None = None) -> Provider:
        """A provider whose configuration was removed still lets people see and disconnect their old link.

        Only on the connected-services page: everywhere else (sign-in, connect) an unconfigured provider
        stays unavailable, as allauth has it.
        """
        try:
            return super().get_provider(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            match = getattr(request, "resolver_match", None)
            if match is None or match.url_name != "socialaccount_connections":
                raise
            provider_class = provider_registry.get_class(provider)
            return provider_class(request=request, app=SocialApp(provider=provider, name=provider_class.name))
