"""A child who reached the age of consent accepts the privacy policy before anything else (after sign-in)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .portal.session import AGE_UP_SESSION_KEY

EXEMPT_PREFIXES = ("/static/", "/accounts/logout/", "/consent/", "/privacy/", "/i18n/")


class AgeUpMiddleware:
    """No query per request: the sign-in receiver (portal.age_up_on_login_receiver) sets a session flag."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if (
            session is not None
            and session.get(AGE_UP_SESSION_KEY)
            and request.user.is_authenticated
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            return redirect("consent:age_up")
        return self.get_response(request)
