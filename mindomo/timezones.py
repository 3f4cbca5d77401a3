"""The reader's time zone: times on pages and in emails are shown where the reader lives, the zone named.

- In a browser, a first-party script (static/js/site.js) reports the zone the device uses (an IANA name such as
  ``Europe/Bucharest``) in the ``mindomo_tz`` cookie; :class:`TimeZoneMiddleware` activates it
  for the next pages. Before the script has run (the very first page) a signed-in person's country decides when
  that country has a single zone (Romania, Germany, France); otherwise the page stays in UTC and says so.
- An email is rendered in the zone of the country it concerns (:func:`override_for_country`), the zone named.

Only a name from the IANA database is ever activated; anything else in the cookie is ignored.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

from babel.core import get_global
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TIME_ZONE_COOKIE = "mindomo_tz"
COOKIE_MAX_AGE = 365 * 24 * 3600


@lru_cache(maxsize=1)
def _known() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def valid(name: str | None) -> str | None:
    """``name`` when it is a zone of the IANA database, else None (the cookie comes from outside)."""
    if not name or len(name) > 64:
        return None
    return name if name in _known() else None


@lru_cache(maxsize=512)
def zone_for_country(country: Any) -> str | None:
    """The zone of a country whose clocks all show the same time (Romania; Germany, whose Büsingen follows
    Berlin), else None (the United States, Spain with the Canaries): CLDR's territory zones."""
    code = str(country or "").upper()
    if len(code) != 2:
        return None
    zones = [zone for zone in get_global("territory_zones").get(code, ()) if zone in _known()]
    if not zones:
        return None
    year = datetime.datetime.now(tz=datetime.UTC).year
    instants = [datetime.datetime(year, month, 15, 12, tzinfo=datetime.UTC) for month in (1, 7)]
    offsets = {tuple(instant.astimezone(zoneinfo.ZoneInfo(zone)).utcoffset() for instant in instants) for zone in zones}
    return zones[0] if len(offsets) == 1 else None


def zone_for_request(request: HttpRequest) -> str | None:
    """The zone the browser reported, else the signed-in person's country's single zone."""
    reported = valid(unquote(request.COOKIES.get(TIME_ZONE_COOKIE, "")))
    if reported:
        return reported
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return zone_for_country(getattr(user, "country", ""))
    return None


@contextmanager
def override_for_country(country: Any) -> Iterator[None]:
    """Render in the country's zone when it has one (emails), else in the current one."""
    zone = zone_for_country(country)
    if zone is None:
        yield
        return
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        yield


class TimeZoneMiddleware:
    """After AuthenticationMiddleware: show times in the reader's zone, UTC otherwise. No query of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = zone_for_request(request)
        if zone is None:
            return self.get_response(request)
        with timezone.override(zoneinfo.ZoneInfo(zone)):
            return self.get_response(request)
