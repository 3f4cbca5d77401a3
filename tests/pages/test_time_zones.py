"""Times show where the reader lives: the browser's zone (the mindomo_tz cookie site.js sets), else the signed-in
person's country when it has one zone, else UTC; the zone is always named. Emails about a child's sign-up are
in the zone of the child's country."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import DataExport, User
from analytics.cookies import catalogue
from mindomo.timezones import TIME_ZONE_COOKIE, valid, zone_for_country

pytestmark = pytest.mark.django_db

WINTER_NOON_UTC = datetime.datetime(2027, 1, 15, 12, 0, tzinfo=datetime.UTC)


def _export_page(user: User, cookie: str | None = None) -> str:
    export = DataExport.objects.create(public_id=uuid.uuid4(), user=user, parts_total=1)
    DataExport.objects.filter(pk=export.pk).update(requested_at=WINTER_NOON_UTC)
    client = Client()
    client.force_login(user)
    if cookie is not None:
        client.cookies[TIME_ZONE_COOKIE] = cookie
    response = client.get(reverse("accounts:data_export"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_browsers_zone_is_used_and_named(member: User) -> None:
    member.country = "US"
    member.save(update_fields=["country"])
    html = _export_page(member, "Europe/Bucharest")
    assert "2 p.m. EET" in html
    assert "noon UTC" not in html


def test_without_a_reported_zone_a_single_zone_country_decides(member: User) -> None:
    member.country = "RO"
    member.save(update_fields=["country"])
    assert "2 p.m. EET" in _export_page(member)


@pytest.mark.parametrize("cookie", [None, "Mars/Olympus", "../../etc/passwd", "x" * 300, ""])
def test_otherwise_utc_named_and_nothing_breaks(member: User, cookie: str | None) -> None:
    member.country = "US"  # many zones: no guess
    member.save(update_fields=["country"])
    assert "noon UTC" in _export_page(member, cookie)


def test_only_iana_names_and_single_zone_countries() -> None:
    assert valid("Europe/Bucharest") == "Europe/Bucharest"
    assert valid("Europe/Nowhere") is None
    assert zone_for_country("DE") == "Europe/Berlin"
    assert zone_for_country("US") is None
    assert zone_for_country("") is None


def test_the_cookie_is_in_the_published_cookie_list() -> None:
    assert TIME_ZONE_COOKIE in {cookie.name for cookie in catalogue()}


def test_a_reminder_to_a_romanian_parent_names_bucharest_time(django_capture_on_commit_callbacks: Any) -> None:
    from django.core import mail

    from consent import services
    from consent.models import AgeRule, PendingSignup

    created = WINTER_NOON_UTC - datetime.timedelta(days=4)
    pending = PendingSignup.objects.create(
        public_id="tz-reminder",
        login_digest=services.login_digest("kid-tz"),
        sealed="gAAAA-sealed",
        parent_email="mama@example.ro",
        country="RO",
        rule=AgeRule.objects.filter(country="RO", superseded_at__isnull=True).first()
        or AgeRule.objects.filter(superseded_at__isnull=True).first(),
        consent_month=datetime.date(2030, 1, 1),
        created_at=created,
        expires_at=WINTER_NOON_UTC + datetime.timedelta(days=3),
        reminder_due_at=created,
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.pending_signups_remind(now=WINTER_NOON_UTC) == 1
    (message,) = mail.outbox
    assert message.to == [pending.parent_email]
    assert "2 p.m. EET" in message.body  # Jan. 18, 2027, 2 p.m. EET: noon UTC in Bucharest
    assert "UTC" not in message.body
