"""Who may be asked about analytics, and what they chose.

Analytics are never used for children or school accounts (``consent.selectors``), never in a child's
sign-up flow or on the consent pages, and for anyone else only after they opted in.
"""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import Resolver404, resolve
from django.utils import timezone

from consent import constants as consent_constants
from consent import selectors as consent_selectors
from consent.selectors import is_child_account, is_school_consented

from .cookies import read_choice
from .models import CookieChoice, CookieConsent

# Pages where analytics never run and the banner is never shown: the age gate, a child's sign-up and
# the parent's consent page (a child or a pending consent may be on the other side).
EXCLUDED_NAMESPACES = frozenset({"consent"})
SESSION_KEY = "analytics.audience"


@dataclass(frozen=True)
class Audience:
    may_opt_in: bool  # an adult (or a visitor not known to be a child) outside a child's flow
    choice: str | None  # a CookieChoice value, or None when no choice was made yet

    @property
    def show_banner(self) -> bool:
        return self.may_opt_in and self.choice is None

    @property
    def analytics_on(self) -> bool:
        return self.may_opt_in and self.choice == CookieChoice.ANALYTICS


def _browser_in_child_flow(request: HttpRequest) -> bool:
    """The browser went through the age gate as a child, or holds a child's pending sign-up."""
    decision = consent_selectors.browser_age_decision(request)
    if decision is not None and decision.is_child:
        return True
    return bool(request.COOKIES.get(consent_constants.REQUEST_COOKIE))


def _account_state(request: HttpRequest, *, fresh: bool = False) -> tuple[bool, str | None]:
    """(exempt, stored choice) of the signed-in user.

    Pages read it from the session, where it is put at sign-in (``remember_account_state_at_login``) and
    refreshed every ANALYTICS_AUDIENCE_RECHECK_SECONDS, so a page costs no query for it. The page-view
    endpoint and the choice service always check afresh.
    """
    user: Any = request.user
    cached = request.session.get(SESSION_KEY)
    ttl = settings.ANALYTICS_AUDIENCE_RECHECK_SECONDS
    if (
        not fresh
        and isinstance(cached, dict)
        and cached.get("uid") == user.pk
        and time.time() - cached.get("at", 0) < ttl
    ):
        return bool(cached["exempt"]), cached.get("choice") or None
    exempt, choice = account_state(user)
    remember_account_state(request, exempt=exempt, choice=choice)
    return exempt, choice


def account_state(user: Any) -> tuple[bool, str | None]:
    exempt = is_child_account(user) or is_school_consented(user)
    choice = None
    if not exempt:
        choice = (
            CookieConsent.objects.filter(user_id=user.pk, decided_at__gte=choice_expiry_cutoff(timezone.now()))
            .values_list("choice", flat=True)
            .first()
        )
    return exempt, choice


def choice_expiry_cutoff(now: datetime.datetime) -> datetime.datetime:
    """A stored choice made before this moment has lapsed (like the cookie): the person is asked again."""
    return now - datetime.timedelta(days=settings.ANALYTICS_CHOICE_COOKIE_DAYS)


def cookie_choices_expired(now: datetime.datetime) -> QuerySet[CookieConsent]:
    """The retention rule's rows: stored choices that have lapsed."""
    return CookieConsent.objects.filter(decided_at__lt=choice_expiry_cutoff(now))


def remember_account_state(request: HttpRequest, *, exempt: bool, choice: str | None) -> None:
    request.session[SESSION_KEY] = {"uid": request.user.pk, "exempt": exempt, "choice": choice or "", "at": time.time()}


def remember_account_state_at_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: work the account's status out once, while the session is being written."""
    if request is None or not hasattr(request, "session"):
        return
    exempt, choice = account_state(user)
    request.session[SESSION_KEY] = {"uid": user.pk, "exempt": exempt, "choice": choice or "", "at": time.time()}


def is_excluded_namespace(namespace: str | None) -> bool:
    return bool(namespace) and str(namespace).split(":", 1)[0] in EXCLUDED_NAMESPACES


def audience_for(request: HttpRequest, *, namespace: str | None = None, fresh: bool = False) -> Audience:
    """The audience of ``request`` on a page of ``namespace`` (by default, the page being served).

    ``fresh``: check the account in the database rather than trust the session's copy (for writes).
    """
    if namespace is None:
        match = getattr(request, "resolver_match", None)
        namespace = match.namespace if match else ""
    if is_excluded_namespace(namespace) or _browser_in_child_flow(request):
        return Audience(may_opt_in=False, choice=None)
    user: Any = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        exempt, stored = _account_state(request, fresh=fresh)
        if exempt:
            return Audience(may_opt_in=False, choice=None)
        # A signed-in person's own stored choice counts, never the browser's: on a shared computer another
        # adult's cookie must not stand for this person's consent. Without a stored choice they are asked.
        return Audience(may_opt_in=True, choice=stored)
    return Audience(may_opt_in=True, choice=read_choice(request))


def page_route(path: str) -> tuple[str, str] | None:
    """(URL pattern, namespace) of one of our pages, or None. The pattern holds no identifier from the URL."""
    if not path.startswith("/") or "?" in path or "#" in path or len(path) > 255:
        return None
    try:
        match = resolve(path)
    except Resolver404:
        return None
    route = "/" + (match.route or "").lstrip("/")
    return route[:255], match.namespace
