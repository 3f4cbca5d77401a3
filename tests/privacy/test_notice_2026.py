"""The 2026 privacy notice: every element the law asks for, in every language, its tables drawn from the code's data."""

from __future__ import annotations

import datetime
import re
from html import unescape
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from analytics import cookies as analytics_cookies
from consent import services as consent_services
from consent.models import ThirdParty
from consent.reference_data import ensure_loaded
from mindomo import privacy
from privacy.models import PolicyVersion
from privacy.services import policy_current

pytestmark = pytest.mark.django_db

SECTIONS = (
    "who",
    "principles",
    "collected",
    "children",
    "ages",
    "retention",
    "third-parties",
    "disclosure-consent",
    "parents",
    "rights",
    "cookies",
    "data-centres",
    "security",
    "changes",
)


@pytest.fixture(autouse=True)
def _reference_data(db: Any) -> None:
    ensure_loaded()


def policy_page(language: str = "en") -> str:
    client = Client(headers={"accept-language": language})
    response = client.get(reverse("privacy_policy"))
    assert response.status_code == 200
    return response.content.decode()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_2026_version_is_in_force_material_and_renders_its_own_template() -> None:
    version = policy_current()
    assert version is not None
    assert version.version == "2026-11-30"
    assert version.material
    assert version.template_name == "privacy/policy_2026.html"
    assert PolicyVersion.objects.filter(version="2018-05-24").exists()  # the history stays


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_the_notice_renders_in_every_language_with_every_section(language: str) -> None:
    html = policy_page(language)

    assert f'<html lang="{language}">' in html
    for section in SECTIONS:
        assert f'id="{section}"' in html
    assert "{%" not in html
    assert "{{" not in html
    assert settings.SELLER_NAME in html
    assert settings.CONSENT_SUPPORT_EMAIL in html
    assert f'href="{reverse("consent:portal")}"' in html
    assert f'href="{reverse("privacy:ages")}"' in html
    assert f'href="{reverse("privacy:retention")}"' in html
    assert "<code>sessionid</code>" in html
    assert "Hetzner Online GmbH" in html
    if language != "en":
        assert "english-prevails" in html
        with translation.override(language):
            assert translation.gettext("What we collect and why") != "What we collect and why"
        assert "What we collect and why" not in html
        assert "Who we are" not in html


def test_the_english_notice_says_each_thing_the_law_asks_for() -> None:
    text = text_of(policy_page())

    for element in (
        # operator and contact (COPPA 312.4(d)(1), GDPR 13(1)(a))
        f"Mindomo is operated by {settings.SELLER_NAME}, {settings.SELLER_ADDRESS}",
        # what is collected from children and adults, and why
        "A child who signs up gives only a username (or an email address), a password and a parent's email address",
        "first and last name, email address and password",
        "Why we may process it (legal bases under the GDPR)",
        # retention, from the registry
        "deleted 7 days after the request when the parent has not answered",
        # third parties and whether integral, disclosure consent separate and optional
        "Integral to the service",
        "needs a separate consent from the parent",
        "This consent is optional: the child can use the service without it",
        # parents' rights and how
        "stop any further collection",
        "delete the account and all its data at once",
        "single-use link sent to the email address that gave consent",
        # ages, cookies and analytics as they work, data centres, security, changes
        "elsewhere we apply 16",
        "In the United States it is 13 (COPPA).",
        "No company other than us sets or reads a cookie through our site",
        "Children and school accounts never see the question and are never counted",
        "the main one in Germany, and encrypted backups in Ireland",
        "We follow a written security program",
        "adults are asked to accept the new version at their next sign-in",
        "complain to a data protection authority",
    ):
        assert element in text


def test_the_2018_statements_the_product_no_longer_matches_are_gone() -> None:
    text = text_of(policy_page())
    for stale in (
        "Google Analytics",
        "Local Storage Objects",
        "web beacons",
        "13 (United States) and 16 (European Union)",
        "please alert Mindomo at",
        "public gallery",
        "Last Updated: May 24, 2018",
    ):
        assert stale not in text


class _MarkerProvider(privacy.PrivacyProvider):
    name = "notice_test_marker"
    label = "Marker data"

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="accounts.User",
                fields=("marker_field",),
                purpose="Prove the notice follows the registry",
                retention="Forty-two days after the marker is set",
            )
        ]

    def retention_rules(self) -> list[privacy.RetentionRule]:
        from accounts.models import User

        return [
            privacy.RetentionRule(
                name="notice_test.marker",
                description="Marker rows",
                period="deleted forty-two days after they are made",
                expired=lambda now: User.objects.none(),
            )
        ]

    def export(self, user: Any) -> dict[str, Any]:
        return {}

    def erase(self, user: Any) -> None:
        return None


def test_a_registry_declaration_appears_on_the_published_page_and_goes_with_it() -> None:
    assert "Forty-two days after the marker is set" not in policy_page()

    privacy.registry.register(_MarkerProvider)
    try:
        text = text_of(policy_page())
        assert "Marker data" in text
        assert "marker_field" in text
        assert "Prove the notice follows the registry" in text
        assert "Forty-two days after the marker is set" in text
        assert "Marker rows" in text
        assert "deleted forty-two days after they are made" in text
    finally:
        privacy.registry._providers.pop(_MarkerProvider.name)

    assert "Forty-two days after the marker is set" not in policy_page()


def test_a_changed_retention_declaration_changes_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = privacy.registry.get("support")
    declared = list(provider.declarations())
    assert declared[0].retention in text_of(policy_page())
    changed = [
        privacy.DataCategory(
            model=declared[0].model,
            fields=declared[0].fields,
            purpose=declared[0].purpose,
            retention="Deleted 90 days after we receive it",
        ),
        *declared[1:],
    ]
    monkeypatch.setattr(type(provider), "declarations", lambda self: changed)

    text = text_of(policy_page())

    assert "Deleted 90 days after we receive it" in text
    assert str(declared[0].retention) not in text


def test_the_third_party_table_follows_the_registry_of_providers() -> None:
    ThirdParty.objects.create(
        name="Example Tutoring Ltd",
        purpose="Live tutoring sessions",
        location="Canada",
        integral=False,
        active=True,
    )
    html = policy_page()
    row = re.search(r"<tr><td>Example Tutoring Ltd</td>(.*?)</tr>", html, re.S)
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert cells == ["Live tutoring sessions", "Canada", "No", "Yes"]
    braintree = re.search(r"<tr><td>Braintree \(PayPal\)</td>(.*?)</tr>", html, re.S)
    assert braintree
    assert re.findall(r"<td>(.*?)</td>", braintree.group(1), re.S)[2:] == ["No", "No"]

    ThirdParty.objects.filter(name="Example Tutoring Ltd").delete()
    assert "Example Tutoring Ltd" not in policy_page()


def test_the_age_summary_and_the_full_table_follow_the_age_rules() -> None:
    before = text_of(policy_page())
    count = int(re.search(r"we know it for (\d+) jurisdictions", before).group(1))
    assert "with ages from 13 to 18" in before  # India's 18 is the oldest row

    consent_services.age_rule_create(
        country="ZA",
        subdivision="",
        age=19,
        legal_source="Test source for the notice",
        effective_from=datetime.date(2026, 1, 1),
        needs_legal_review=True,
    )

    after = text_of(policy_page())
    assert f"we know it for {count + 1} jurisdictions, with ages from 13 to 19" in after
    table = Client().get(reverse("privacy:ages")).content.decode()
    row = re.search(r'<th scope="row">South Africa</th>(.*?)</tr>', table, re.S)
    assert row
    assert re.search(r"<td[^>]*>19</td>", row.group(1))
    assert "Test source for the notice" in row.group(1)
    assert "under legal review" in row.group(1)
    assert "COPPA, 15 U.S.C. 6501-6506; 16 CFR 312" in table


def test_the_cookie_list_follows_the_cookie_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    listed = analytics_cookies.catalogue()
    monkeypatch.setattr(
        analytics_cookies,
        "catalogue",
        lambda: [
            *listed,
            analytics_cookies.CookieInfo(
                name="mindomo_test_cookie", purpose="A test's cookie", lifetime="1 day", essential=True, set_by="test"
            ),
        ],
    )
    html = policy_page()
    assert "<code>mindomo_test_cookie</code>" in html
    for cookie in listed:
        assert f"<code>{cookie.name}</code>" in html


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_the_age_table_page_renders_in_every_language(language: str) -> None:
    response = Client(headers={"accept-language": language}).get(reverse("privacy:ages"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert html.count('<th scope="row">') >= 30


@pytest.mark.parametrize(
    ("language", "order", "default_name"),
    [
        # by name, not by code (NO before AT); accents ignored: Ö among the O, not after Z
        ("de", ["Norwegen", "Österreich", "Polen"], "Überall sonst (Standard)"),
        ("fr", ["Estonie", "États-Unis d'Amérique", "Finlande"], "Partout ailleurs (par défaut)"),
    ],
)
def test_the_age_table_is_in_the_readers_alphabetical_order(language: str, order: list[str], default_name: str) -> None:
    html = Client(headers={"accept-language": language}).get(reverse("privacy:ages")).content.decode()
    names = [unescape(name) for name in re.findall(r'<th scope="row">([^<]*)</th>', html)]
    positions = [names.index(name) for name in order]
    assert positions == sorted(positions)
    assert names[-1] == default_name  # the row for everywhere else comes last


def test_romanian_dates_write_the_month_in_small_letters() -> None:
    html = Client(headers={"accept-language": "ro"}).get(reverse("privacy:ages")).content.decode()
    assert "25 mai 2018" in html  # GDPR Art. 8's rows, as Romanian writes dates (Django's own catalogue: "Mai")
    assert "25 Mai 2018" not in html
