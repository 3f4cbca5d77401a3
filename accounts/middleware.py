"""A signed-in person's language: their stored choice wins over the cookie and Accept-Language, everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _

from accounts import selectors
from mindomo.i18n import supported


class UserLanguageMiddleware:
    """After AuthenticationMiddleware: apply the account's language and keep the language cookie in step.

    LocaleMiddleware has already chosen from the cookie or Accept-Language. For a signed-in person the
    account's choice replaces it on every request (so a choice made on one device follows them to another,
    on their next request); a person who never chose keeps the language they are reading (it was stored when they signed
    in, accounts.services.user_language_on_sign_in_receiver). No query of its own: the user is loaded anyway.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        chosen = None
        if user is not None and user.is_authenticated:
            chosen = supported(getattr(user, "language", ""))
            if chosen and chosen != translation.get_language():
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]
            )
        return response


# allauth's pages that concern an adult's own account: an email address, linked services (the two-factor
# pages already answer 404 to them: privacy.staff_security).
ADULT_ONLY_PAGES = frozenset(
    {
        "account_email",
        "socialaccount_connections",
    }
)


class AdultPagesMiddleware:
    """A child's or a school-registered account never sees the email or connected-services pages,
    even by typing their address: they lead to the profile with a word saying why.

    Only those pages cost the check (one query, through accounts' hooks); every other request passes untouched.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        match = getattr(request, "resolver_match", None)
        if match is None or match.url_name not in ADULT_ONLY_PAGES:
            return None
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not selectors.user_is_child_or_school_account(user):
            return None
        if selectors.user_is_school_account(user):
            messages.info(
                request, _("Your school looks after this account, so it has no email address or linked services here.")
            )
        else:
            messages.info(
                request, _("Your parent looks after this account, so it has no email address or linked services here.")
            )
        return redirect("accounts:profile")
