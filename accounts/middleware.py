"""A signed-in person's language: their stored choice wins over the cookie and Accept-Language, everywhere."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

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
