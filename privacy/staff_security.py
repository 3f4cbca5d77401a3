"""Staff security: a second factor for every staff account, idle staff sessions end, new browsers are reported.

One middleware (``StaffSecurityMiddleware``, after allauth's and the policy middleware) applies the rules to
every request of a signed-in staff account (``selectors.is_staff_account``: is_staff, superuser, or any
privacy role):

- **A second factor first.** A staff account without an allauth.mfa authenticator reaches only the MFA setup
  pages (and sign-out, reauthentication, email confirmation, static files); every other page, the admin and any
  staff-only view included, redirects there. A staff account that has one must have used it in this session
  (allauth's authentication records hold an ``mfa`` step, or the authenticator was added in this session);
  a session that skipped it (made outside allauth's flow) is ended.
- **MFA changes end the other sessions.** The session remembers the set of authenticators it was verified
  with; when it changes (added, removed, recovery codes regenerated) elsewhere, the session ends. The session
  that made the change is updated by allauth's signals. Password changes end the other sessions through
  Django's session hash.
- **Idle sessions end** after ``STAFF_SESSION_IDLE_SECONDS`` without a request.
- **A sign-in from a new browser** (no known ``mindomo_staff_browser`` cookie) emails the staff member.

Children and school-registered accounts are not offered MFA: its pages answer 404 for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from . import selectors, services

SEEN_KEY = "staff_seen_at"
MFA_SET_KEY = "staff_mfa_set"
MFA_ADDED_KEY = "staff_mfa_added_here"
BROWSER_COOKIE = "mindomo_staff_browser"
BROWSER_COOKIE_AGE = 400 * 24 * 3600  # the longest lifetime browsers accept
_NEW_LOGIN_FLAG = "_staff_signed_in"

# What a staff member without a second factor may still open: setting one up, and what that needs.
MFA_PREFIX = "/accounts/2fa/"
SETUP_PREFIXES = (
    MFA_PREFIX,
    "/accounts/logout/",
    "/accounts/reauthenticate/",
    "/accounts/confirm-email/",
    "/accounts/email/",
    "/static/",
    "/i18n/",
)


def _login_redirect(request: HttpRequest, message: str) -> HttpResponse:
    logout(request)
    messages.warning(request, message)
    return HttpResponseRedirect(reverse("account_login") + "?" + urlencode({"next": request.get_full_path()}))


def mfa_verified_in_session(request: HttpRequest, user: Any) -> bool:
    """The second factor was used in this session (allauth's records), or set up in it."""
    if request.session.get(MFA_ADDED_KEY):
        return True
    return any(record.get("method") == "mfa" for record in get_authentication_records(request, user))


class StaffSecurityMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self._check(request)
        if refusal is not None:
            return refusal
        response = self.get_response(request)
        if getattr(request, _NEW_LOGIN_FLAG, None) is not None:
            self._remember_browser(request, response)
        return response

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated:
            return None
        if not selectors.is_staff_account(user, session=request.session):
            if request.path.startswith(MFA_PREFIX) and not selectors.mfa_offered(user):
                raise Http404
            return None

        now = int(time.time())
        seen = request.session.get(SEEN_KEY)
        if isinstance(seen, int) and now - seen > settings.STAFF_SESSION_IDLE_SECONDS:
            return _login_redirect(request, _("Your staff session ended after a period of inactivity."))
        request.session[SEEN_KEY] = now

        current = selectors.mfa_fingerprint(user)
        if not current:
            if request.path.startswith(SETUP_PREFIXES):
                return None
            messages.warning(request, _("Staff accounts need two-factor authentication. Set it up to continue."))
            return HttpResponseRedirect(reverse("mfa_index"))
        if not mfa_verified_in_session(request, user):
            return _login_redirect(request, _("Sign in again with your second factor."))
        remembered = request.session.get(MFA_SET_KEY)
        if remembered is None:
            request.session[MFA_SET_KEY] = current
        elif remembered != current:
            return _login_redirect(
                request, _("Your two-factor authentication changed, so your session ended. Sign in again.")
            )
        return None

    def _remember_browser(self, request: HttpRequest, response: HttpResponse) -> None:
        user = getattr(request, _NEW_LOGIN_FLAG)
        token = services.staff_browser_signed_in(
            user=user,
            token=request.COOKIES.get(BROWSER_COOKIE, ""),
            user_agent=request.headers.get("User-Agent", ""),
        )
        response.set_cookie(
            BROWSER_COOKIE,
            token,
            max_age=BROWSER_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )


# --- signal receivers (connected in PrivacyConfig.ready) ---------------------------------------------------
def staff_logged_in_receiver(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: a staff sign-in is checked against the browsers known for the account."""
    if request is None or not hasattr(request, "session"):
        return
    request.session.pop(SEEN_KEY, None)
    request.session.pop(MFA_SET_KEY, None)
    request.session.pop(MFA_ADDED_KEY, None)
    if selectors.is_staff_account(user, session=request.session):
        setattr(request, _NEW_LOGIN_FLAG, user)


def authenticators_changed_receiver(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """allauth.mfa's ``authenticator_added`` / ``_removed`` / ``_reset``: this session made the change (after
    reauthenticating), so it stays valid; every other session of the account ends at its next request."""
    if request is None or not hasattr(request, "session") or getattr(request, "user", None) != user:
        return
    request.session[MFA_SET_KEY] = selectors.mfa_fingerprint(user)
    request.session[MFA_ADDED_KEY] = True
    # allauth sends these after the commit, which may come after the response wrote the session: save now.
    request.session.save()
