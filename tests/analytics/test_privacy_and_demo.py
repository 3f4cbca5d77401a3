"""The analytics app in the privacy registry (export, erase), and its demo data."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from analytics.demo import load
from analytics.models import CookieConsent, PageViewCount
from mindomo.privacy import registry
from tests.consent.factories import make_user

pytestmark = pytest.mark.django_db


def test_the_choice_is_exported_and_erased_and_counts_hold_nobody() -> None:
    adult = make_user()
    other = make_user()
    decided = timezone.now()
    CookieConsent.objects.create(user=adult, choice="analytics", decided_at=decided)
    CookieConsent.objects.create(user=other, choice="essential", decided_at=decided)
    provider = registry.get("analytics")

    exported = provider.export(adult)
    provider.erase(adult)

    assert exported == {"cookie_choice": {"choice": "analytics", "decided_at": decided.isoformat()}}
    assert not CookieConsent.objects.filter(user=adult).exists()
    assert CookieConsent.objects.filter(user=other).exists()
    assert [d.model for d in provider.declarations()] == ["analytics.CookieConsent"]
    assert {f.name for f in PageViewCount._meta.get_fields()} == {"id", "path", "day", "count"}


def test_the_demo_loads_twice_without_duplicates() -> None:
    first = load()
    counts = PageViewCount.objects.count()
    second = load()

    assert first == second
    assert first[0].login == "olivia@example.com"
    assert PageViewCount.objects.count() == counts > 0
    assert CookieConsent.objects.get(user__username="olivia").choice == "analytics"


def test_a_stored_choice_lapses_like_the_cookie_and_the_retention_rule_deletes_it(settings: Any) -> None:
    from django.test import Client

    adult, recent = make_user(), make_user()
    now = timezone.now()
    old = CookieConsent.objects.create(
        user=adult,
        choice="analytics",
        decided_at=now - datetime.timedelta(days=settings.ANALYTICS_CHOICE_COOKIE_DAYS + 1),
    )
    kept = CookieConsent.objects.create(user=recent, choice="analytics", decided_at=now - datetime.timedelta(days=1))
    client = Client()
    client.force_login(adult)

    body = client.get("/privacy/").content.decode()
    rules = dict((rule.name, rule) for _provider, rule in registry.retention_rules())

    assert 'id="cookie-banner"' in body
    assert "js/analytics.js" not in body
    assert list(rules["analytics.cookie_choices"].expired(now)) == [old]
    assert kept not in rules["analytics.cookie_choices"].expired(now)
