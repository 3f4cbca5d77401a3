"""The only place django-allauth is customised (DESIGN.md convention 6)."""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import quote

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows import signup as signup_flows
from allauth.account.stages import EmailVerificationStage
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers import registry as provider_registry
from allauth.socialaccount.providers.base import Provider
from cryptography.fernet import Fernet
from django.contrib import messages
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from mindomo.i18n import current_language, language_for, override
from mindomo.outbox import services as outbox
from mindomo.site import absolute_url

from . import hooks, selectors
from .models import User


class ConsentedAccountEmailVerificationStage(EmailVerificationStage):
    """Accounts created through a parent's or a school's consent may have no email address at all
    (a child chooses a username); their consent stands in for email verification. Everyone else
    verifies their email as allauth's mandatory verification has it."""

    def handle(self) -> tuple[Any, bool]:
        user = self.login.user
        if not getattr(user, "email", "") and hooks.verification_waived(user):
            return None, True
        response, cont = super().handle()
        return response, cont


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth's emails (verification, password reset, "an account already exists"...) go through the
        outbox like every other: written in the request's transaction, sent by the retrying task, so a mail
        outage during sign-up never fails the page and the email goes out once the server is back. They
        carry keys (verification, reset), so the row is deleted as soon as the email is sent."""
        request = allauth_context.request
        full_context = {"request": request, "email": email, "current_site": get_current_site(request)}
        full_context.update(context)
        user = context.get("user")
        # in the recipient's stored language (the page's language for someone without an account)
        language = language_for(user, fallback=current_language())
        with override(language):
            message = self.render_mail(template_prefix, email, full_context)
        outbox.delivery_enqueue(
            kind="allauth." + template_prefix.rsplit("/", 1)[-1],
            message=message,
            user=user if isinstance(user, User) else None,
            forget_when_sent=True,
            language=language,
        )

    def get_login_stages(self) -> list[str]:
        stages = super().get_login_stages()
        return [
            "accounts.adapters.ConsentedAccountEmailVerificationStage"
            if stage == "allauth.account.stages.EmailVerificationStage"
            else stage
            for stage in stages
        ]

    # allauth builds its links from the request's host (or the Site row outside a request); ours come from
    # SITE_URL. The two links that carry a key use SITE_URL too, so every email points at the same base.
    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        return absolute_url(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        path = reverse("account_reset_password_from_key", kwargs={"uidb36": "UID", "key": "KEY"})
        return absolute_url(path.replace("UID-KEY", quote(key)))

    def respond_user_inactive(self, request: HttpRequest, user: Any) -> HttpResponse:
        """An app may explain why the account cannot sign in (consent: a parent paused a child's account)
        instead of allauth's "Account Inactive"."""
        response = hooks.inactive_response(request, user)
        return response if response is not None else super().respond_user_inactive(request, user)

    # We never collect phone numbers. allauth's headless API still serves its phone endpoints; they find none
    # and cannot set one (instead of allauth's NotImplementedError, a server error).
    def get_phone(self, user: Any) -> tuple[str, bool] | None:
        return None

    def get_user_by_phone(self, phone: str) -> Any:
        return None

    def set_phone(self, user: Any, phone: str, verified: bool) -> None:
        raise PermissionDenied

    def set_phone_verified(self, user: Any, phone: str) -> None:
        raise PermissionDenied

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Every path that creates an account passes here or in save_user (local form, each provider's
        # sign-up form, the final save); consent's age gate decides where a sign-up must go first.
        if _headless_listing_flows(request, "signup"):
            return True
        response = hooks.signup_response(request)
        if response is not None:
            raise ImmediateHttpResponse(response)
        return True

    _username_taken = ""

    def generate_unique_username(self, txts: list[str | None], regex: str | None = None) -> str:
        if self._username_taken:
            return _username_after_collision(self._username_taken)
        return str(super().generate_unique_username(txts, regex))

    def save_user(self, request: HttpRequest, user: Any, form: BaseForm, commit: bool = True) -> Any:
        # The last line of defence: no account is ever saved without an adult decision from the gate
        # (consent's hook also copies the country the gate decided with, so it is never asked twice).
        for prepare in hooks.signup_prepare:
            response = prepare(request, user)
            if response is not None:
                raise ImmediateHttpResponse(response)
        user.language = current_language()  # the language of the sign-up: later emails are written in it
        if not commit:
            return super().save_user(request, user, form, commit=False)
        for attempt in range(USERNAME_ATTEMPTS):
            try:
                with transaction.atomic():  # a savepoint: a conflict leaves nothing half-written
                    saved = super().save_user(request, user, form, commit=True)
                    for saved_hook in hooks.signup_saved:
                        saved_hook(request, saved)
                return saved
            except IntegrityError as exc:
                constraint = _violated_constraint(exc)
                if constraint == EMAIL_CONSTRAINT:
                    # Another sign-up with this address (in any case) committed between the form's check and
                    # this insert: the duplicate path, as if the account had existed before (no enumeration).
                    raise ImmediateHttpResponse(signup_flows.prevent_enumeration(request, email=user.email)) from exc
                if constraint not in USERNAME_CONSTRAINTS or attempt == USERNAME_ATTEMPTS - 1:
                    raise
                # The generated username was taken meanwhile. allauth offers the shortest free candidate, and
                # every sign-up racing with this one computed the same candidate from the same table, so asking
                # it again collides again; the retry takes a long random suffix instead (one in 10^8 to collide).
                # (allauth's save_user resets the username from the form, so the choice is made where it asks.)
                self._username_taken = user.username
                user.pk, user.username = None, ""
        raise AssertionError("unreachable")


def _headless_listing_flows(request: HttpRequest, *signup_views: str) -> bool:
    """allauth's headless API also asks "is sign-up open?" to list the flows in any answer (login, session...);
    only its sign-up views themselves meet the age gate, the other questions are answered "open"."""
    if getattr(getattr(request, "allauth", None), "headless", None) is None:
        return False
    match = getattr(request, "resolver_match", None)
    return match is None or match.url_name not in signup_views


EMAIL_CONSTRAINT = "accounts_user_email_ci_unique"
USERNAME_CONSTRAINTS = ("accounts_user_username_ci_unique", "accounts_user_username_key")
USERNAME_ATTEMPTS = 3


def _username_after_collision(taken: str) -> str:
    suffix = f"{secrets.randbelow(10**8):08d}"
    max_length = User._meta.get_field("username").max_length or 150
    return taken[: max_length - len(suffix)] + suffix


def _violated_constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return str(getattr(diag, "constraint_name", "") or "")


class ProviderNotConfigured(Http404, SocialApp.DoesNotExist):
    """No app is configured for a provider: a 404 on every URL of that provider (sign-in, callback, token
    login), and still the ``SocialApp.DoesNotExist`` that allauth's own code (and ours) may catch."""


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

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        """A school sign-in under way is finished by the schools app (nothing of the provider is stored).
        Children and accounts a school registered never link a social service (no data from it)."""
        response = hooks.social_login_response(request, sociallogin)
        if response is not None:
            raise ImmediateHttpResponse(response)
        if sociallogin.state.get("process") != "connect" or not request.user.is_authenticated:
            return
        if not selectors.user_may_link_services(request.user):
            messages.error(request, _("Accounts for children and school accounts cannot be linked to other services."))
            raise ImmediateHttpResponse(redirect("accounts:profile"))

    def is_auto_signup_allowed(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        # Always show the sign-up form: the age gate runs before it and the person confirms their name.
        return False

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """The provider's callback stashes the sign-up and redirects to the sign-up form; the gate runs
        there (and again when the user is saved), so the stashed provider data survives the detour."""
        match = getattr(request, "resolver_match", None)
        headless = getattr(getattr(request, "allauth", None), "headless", None) is not None
        # allauth's headless API has no stash-and-redirect: its provider token login and provider sign-up
        # are refused right here without an adult decision (the client sends the age gate's decision first).
        if headless and _headless_listing_flows(request, "provider_signup", "provider_token"):
            return True
        if headless or (match is not None and match.url_name == "socialaccount_signup"):
            response = hooks.signup_response(request)
            if response is not None:
                raise ImmediateHttpResponse(response)
        return True

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> User:
        """Take only the name and the email from a provider; nothing else it sends is kept."""
        minimal = {key: data.get(key) for key in ("first_name", "last_name", "name", "email")}
        user: User = super().populate_user(request, sociallogin, minimal)
        return user

    def get_app(self, request: HttpRequest, provider: str, client_id: str | None = None) -> SocialApp:
        """Every provider view resolves its app here: an unconfigured provider answers 404, not 500."""
        try:
            app: SocialApp = super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist as exc:
            raise ProviderNotConfigured(_("This sign-in service is not available.")) from exc
        return app

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


def _mfa_fernet() -> Fernet:
    digest = salted_hmac("accounts.mfa.secret", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets are stored encrypted (Fernet, key derived from DJANGO_SECRET_KEY): a copy of the database
    alone does not give anyone the codes of a staff member's authenticator app."""

    def encrypt(self, text: str) -> str:
        return _mfa_fernet().encrypt(text.encode()).decode()

    def decrypt(self, encrypted_text: str) -> str:
        return _mfa_fernet().decrypt(encrypted_text.encode()).decode()
