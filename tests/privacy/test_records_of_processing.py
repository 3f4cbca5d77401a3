"""The record of processing activities (GDPR Art. 30): generated from the privacy registry's declarations, the
retention rules, the third-party registry and the controller's settings; the privacy officer's page and download."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import ThirdParty
from consent.reference_data import THIRD_PARTIES
from mindomo.privacy import registry
from privacy import selectors
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

ROLES = ["member", "staff_without_role", "support_user", "billing_clerk_user", "privacy_officer_user", "superuser"]
ALLOWED = {"privacy_officer_user", "superuser"}


def test_every_activity_declares_its_legal_basis_and_data_subjects_and_names_registered_recipients() -> None:
    registered = {name for name, _purpose, _location, _integral in THIRD_PARTIES}
    for provider in registry.providers():
        assert str(provider.legal_basis).strip(), provider.name
        assert "Art. 6(1)" in str(provider.legal_basis), provider.name
        assert str(provider.data_subjects).strip(), provider.name
        assert set(provider.recipients) <= registered, provider.name


def test_the_record_follows_the_declarations_the_settings_and_the_third_party_registry(settings: Any) -> None:
    settings.SELLER_NAME = "Controller Test SRL"
    records = selectors.processing_records()
    assert records["controller"]["name"] == "Controller Test SRL"
    by_name = {a["name"]: a for a in records["activities"]}
    assert set(by_name) == {p.name for p in registry.providers()}
    grading = by_name["grading"]
    assert {d.model for d in grading["categories"]} >= {"grading.Grade", "grading.Enrollment"}
    assert "grading.past_class_grades" in {r.name for r in grading["rules"]}
    hosting = {"Hetzner Online GmbH", "Amazon Web Services"}
    assert {r.name for r in grading["recipients"]} == hosting
    assert grading["transfers"] == []
    billing = by_name["billing"]
    assert {r.name for r in billing["recipients"]} == hosting | {"Braintree (PayPal)", "2Checkout (Verifone)"}
    assert {r.name for r in billing["transfers"]} == {"Braintree (PayPal)", "2Checkout (Verifone)"}

    ThirdParty.objects.filter(name="Amazon Web Services").update(location="United States")
    moved = {a["name"]: a for a in selectors.processing_records()["activities"]}
    assert "Amazon Web Services" in {r.name for r in moved["grading"]["transfers"]}


def test_the_privacy_officer_reads_it_and_downloads_it(privacy_officer_user: Any, settings: Any) -> None:
    settings.SELLER_NAME = "Controller Test SRL"
    client = sign_in(Client(), privacy_officer_user)
    page = client.get(reverse("admin:privacy_processing_records")).content.decode()
    assert "Record of processing activities (GDPR Art. 30)" in page
    assert "Controller Test SRL" in page
    for provider in registry.providers():
        assert f"<code>{provider.name}</code>" in page
    assert "Contract with the school and the teacher" in page
    assert "Braintree (PayPal) (United States)" in page
    assert "standard contractual clauses" in page
    assert "grading.past_class_grades" in page
    assert reverse("admin:privacy_processing_records_download") in page

    download = client.get(reverse("admin:privacy_processing_records_download"))
    assert download["Content-Type"] == "text/markdown; charset=utf-8"
    assert "attachment" in download["Content-Disposition"]
    text = download.content.decode()
    assert text.startswith("# Record of processing activities (GDPR Art. 30)")
    assert "Controller Test SRL" in text
    assert "## Classes and grades (`grading`)" in text
    assert "| `grading.Grade`: assignment, student, score" in text
    assert "&#x27;" not in text  # Markdown, not HTML


def test_the_record_is_in_the_readers_language(privacy_officer_user: Any) -> None:
    client = sign_in(Client(), privacy_officer_user)
    client.cookies["django_language"] = "de"
    text = client.get(reverse("admin:privacy_processing_records_download"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Rechtsgrundlage" in text


@pytest.mark.parametrize("role", ROLES)
def test_only_the_privacy_officer_opens_the_record(role: str, request: pytest.FixtureRequest) -> None:
    client = sign_in(Client(), request.getfixturevalue(role))
    for name in ("admin:privacy_processing_records", "admin:privacy_processing_records_download"):
        response = client.get(reverse(name))
        if role in ALLOWED:
            assert response.status_code == 200, (role, name)
        else:
            assert response.status_code in (302, 403), (role, name)
            assert b"Legal basis" not in response.content


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    response = Client().get(reverse("admin:privacy_processing_records"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]
