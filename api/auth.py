"""Who is calling: allauth's session token (the "app" client) or the session cookie with CSRF (the "browser"
client), and the parent portal's own session token."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

from allauth.headless.contrib.ninja.security import XSessionTokenAuth
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyHeader, SessionAuth

from accounts.models import User
from consent.portal import session as portal_session
from consent.portal.reads import age_up_due
from consent.selectors import is_child_account, is_school_consented
from privacy import services as privacy_services

from .errors import ApiError
from .limits import session_store


class SessionTokenAuth(XSessionTokenAuth):
    """allauth's X-Session-Token (issued by /_allauth/app/v1/auth/...); ended by logout, a password change and
    every other way an account's sessions end (accounts.services.user_sessions_end)."""

    openapi_type = "apiKey"
    openapi_in = "header"
    openapi_name = "X-Session-Token"

    def __call__(self, request: HttpRequest) -> Any:
        user = super().__call__(request)
        if user is None or not user.is_active:
            return None
        request.user = user
        _pages_first(user)
        return user


def _pages_first(user: Any) -> None:
    """What the pages ask before anything else (privacy.middleware, consent.middleware) refuses the API too: a
    browser session meets those middlewares' redirects; an app's token gets this 403 (answer on the website)."""
    if age_up_due(user):
        raise ApiError.one(
            403,
            "age_up_required",
            _("You are old enough to decide for yourself now: accept the privacy policy on the website first."),
        )
    if (
        not is_child_account(user)
        and not is_school_consented(user)
        and privacy_services.policy_version_requiring_acceptance(user) is not None
    ):
        raise ApiError.one(
            403,
            "policy_acceptance_required",
            _("Our privacy policy changed: accept the new version on the website first."),
        )


class BrowserSessionAuth(SessionAuth):
    """The session cookie of allauth's "browser" client (and the pages); CSRF is checked on every write."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        return user if user.is_authenticated and user.is_active else None


session_token_auth = SessionTokenAuth()
browser_session_auth = BrowserSessionAuth()
USER_AUTH: list[Callable[..., Any]] = [session_token_auth, browser_session_auth]


class PortalSession(SimpleNamespace):
    email: str
    store: SessionBase


class PortalTokenAuth(APIKeyHeader):
    """A parent's portal session (POST /api/v1/portal/session/ exchanges the emailed link's token for it)."""

    param_name = "X-Portal-Token"

    def authenticate(self, request: HttpRequest, key: str | None) -> PortalSession | None:
        if not key or len(key) > 100 or not key.isalnum():
            return None
        store = session_store(key)
        if not store.exists(key):
            return None
        holder = SimpleNamespace(session=store)
        email = portal_session.portal_email(holder)  # type: ignore[arg-type]
        if email is None:
            if store.modified:
                store.save()
            return None
        return PortalSession(email=email, store=store)


portal_token_auth = PortalTokenAuth()


def user_of(request: HttpRequest) -> User:
    """The signed-in person an operation's ``auth`` found."""
    return cast(User, getattr(request, "auth"))  # noqa: B009 -- ninja sets it; HttpRequest does not declare it


def portal_of(request: HttpRequest) -> PortalSession:
    """The parent's portal session an operation's ``auth`` found."""
    return cast(PortalSession, getattr(request, "auth"))  # noqa: B009
