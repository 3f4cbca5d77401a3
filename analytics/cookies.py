"""Every cookie the site sets, and the one that holds the visitor's cookie choice.

The catalogue is what the cookie settings page lists; ``tests/analytics`` checks it against the cookies
the code really sets, so a new cookie cannot go unlisted.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponseBase
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from consent import constants as consent_constants
from consent import selectors as consent_selectors
from mindomo.timezones import COOKIE_MAX_AGE as TIME_ZONE_COOKIE_MAX_AGE
from mindomo.timezones import TIME_ZONE_COOKIE

from .models import CookieChoice

CHOICE_COOKIE = "mindomo_cookies"


@dataclass(frozen=True)
class CookieInfo:
    name: str
    purpose: str | Promise
    lifetime: str | Promise
    essential: bool
    set_by: str


def _days(seconds: int) -> str:
    days = max(1, round(seconds / 86400))
    return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}


def choice_cookie_max_age() -> int:
    return int(settings.ANALYTICS_CHOICE_COOKIE_DAYS) * 86400


def catalogue() -> list[CookieInfo]:
    """Every cookie this site may set, with its purpose and lifetime. No cookie is set by a third party."""
    return [
        CookieInfo(
            name=settings.SESSION_COOKIE_NAME,
            purpose=_("Keeps you signed in from one page to the next."),
            lifetime=_("Until you close the browser, or %(days)s if you ask to be remembered.")
            % {"days": _days(settings.SESSION_COOKIE_AGE)},
            essential=True,
            set_by="django.contrib.sessions",
        ),
        CookieInfo(
            name=settings.CSRF_COOKIE_NAME,
            purpose=_("Protects the forms you send against forgery by other websites."),
            lifetime=_days(settings.CSRF_COOKIE_AGE),
            essential=True,
            set_by="django.middleware.csrf",
        ),
        CookieInfo(
            name=CookieStorage.cookie_name,
            purpose=_("Carries a one-time notice (such as “Your profile has been saved”) to the next page."),
            lifetime=_("Until the notice is shown."),
            essential=True,
            set_by="django.contrib.messages",
        ),
        CookieInfo(
            name=settings.LANGUAGE_COOKIE_NAME,
            purpose=_("Remembers the language you chose for the site."),
            lifetime=_("Until you close the browser."),
            essential=True,
            set_by="django.views.i18n",
        ),
        CookieInfo(
            name=consent_constants.AGE_DECISION_COOKIE,
            purpose=_(
                "Remembers the age check's answer during sign-up (adult, or child and the month the child reaches "
                "the age of consent), never the date of birth."
            ),
            lifetime=_days(consent_selectors.age_decision_cookie_seconds()),
            essential=True,
            set_by="consent.age_gate",
        ),
        CookieInfo(
            name=consent_constants.REQUEST_COOKIE,
            purpose=_(
                "Lets the browser a child signed up in (and only it) have the parent's email sent again. "
                "It is encrypted and holds nothing readable."
            ),
            lifetime=_days(settings.CONSENT_REQUEST_TTL),
            essential=True,
            set_by="consent.views",
        ),
        CookieInfo(
            name=TIME_ZONE_COOKIE,
            purpose=_(
                "Remembers your device's time zone (such as Europe/Bucharest), so that dates and times show in "
                "your own time. Nothing else."
            ),
            lifetime=_days(TIME_ZONE_COOKIE_MAX_AGE),
            essential=True,
            set_by="static/js/site.js",
        ),
        CookieInfo(
            name=CHOICE_COOKIE,
            purpose=_("Remembers your cookie choice (essential only, or with analytics) and nothing else."),
            lifetime=_days(choice_cookie_max_age()),
            essential=True,
            set_by="analytics.cookies",
        ),
        CookieInfo(
            # privacy.staff_security.BROWSER_COOKIE (same layer: named here, not imported)
            name="mindomo_staff_browser",
            purpose=_(
                "Staff accounts only: recognises a browser a staff member signed in with before, so that a sign-in "
                "from a new browser can be reported to them. A random value, nothing readable."
            ),
            lifetime=_days(400 * 24 * 3600),
            essential=True,
            set_by="privacy.staff_security",
        ),
    ]


def read_choice(request: HttpRequest) -> str | None:
    value = request.COOKIES.get(CHOICE_COOKIE)
    return value if value in CookieChoice.values else None


def write_choice(response: HttpResponseBase, choice: str) -> None:
    response.set_cookie(
        CHOICE_COOKIE,
        choice,
        max_age=choice_cookie_max_age(),
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
