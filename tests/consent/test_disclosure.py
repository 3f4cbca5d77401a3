"""Stronger verification (2025 COPPA amendment): the third-party registry drives the method. With no active
non-integral provider, email plus covers everything; with one, its disclosure needs the parent's separate
consent by a zero-amount card check through Braintree (the real SDK against a local fake), never email plus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from consent.models import ConsentRecord, DisclosureConsent, LedgerEntry, ThirdParty
from consent.selectors import third_parties_needing_separate_consent
from tests.consent.fake_braintree_verify import VerifyingFakeBraintree, configure
from tests.consent.portal_helpers import consented_child, signed_in_parent

pytestmark = pytest.mark.django_db

MUM = "mum@example.org"


@pytest.fixture(scope="module")
def braintree_server() -> Iterator[VerifyingFakeBraintree]:
    fake = VerifyingFakeBraintree()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def braintree(braintree_server: VerifyingFakeBraintree, settings: Any) -> Iterator[VerifyingFakeBraintree]:
    configure(settings, braintree_server)
    braintree_server.reset()
    yield braintree_server
    braintree_server.reset()


@pytest.fixture
def tutor_ai() -> ThirdParty:
    return ThirdParty.objects.create(
        name="Tutor AI Ltd", purpose="suggests exercises", location="United States", integral=False
    )


@pytest.fixture
def child_and_mum(django_capture_on_commit_callbacks: Any) -> tuple[Any, Client]:
    child = consented_child("mia2016", MUM)
    return child, signed_in_parent(MUM, django_capture_on_commit_callbacks)


def test_while_every_active_provider_is_integral_email_plus_covers_everything(
    child_and_mum: tuple[Any, Client],
) -> None:
    child, mum = child_and_mum
    ThirdParty.objects.create(name="Old Partner", purpose="x", location="EU", integral=False, active=False)

    assert third_parties_needing_separate_consent() == []
    assert (
        "Sharing with other companies" not in mum.get(reverse("consent:portal_child", args=[child.pk])).content.decode()
    )


def test_email_plus_is_refused_for_a_non_integral_provider(
    child_and_mum: tuple[Any, Client], tutor_ai: ThirdParty, braintree: VerifyingFakeBraintree
) -> None:
    child, mum = child_and_mum
    page = mum.get(reverse("consent:portal_child", args=[child.pk])).content.decode()
    assert "Sharing with other companies" in page
    assert "Tutor AI Ltd" in page
    assert "not shared" in page

    response = mum.post(
        reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk]), {"method": "email_plus"}, follow=True
    )

    assert "stronger proof" in response.content.decode()
    assert not DisclosureConsent.objects.exists()
    assert braintree.verifications() == []


def test_a_zero_amount_card_check_records_the_separate_consent(
    child_and_mum: tuple[Any, Client], tutor_ai: ThirdParty, braintree: VerifyingFakeBraintree
) -> None:
    child, mum = child_and_mum
    assert mum.get(reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk])).status_code == 200
    url = reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk])

    mum.post(url, {"method": "card_check", "payment_method_nonce": "fake-valid-nonce"})
    mum.post(url, {"method": "card_check", "payment_method_nonce": "fake-valid-nonce"})  # double submit

    (sent,) = braintree.verifications()
    assert "<amount>0.00</amount>" in sent
    consent = DisclosureConsent.objects.get()
    assert consent.method == "card_check"
    assert consent.verification_ref.startswith("ver")
    assert consent.record.child_id == child.pk
    assert consent.third_party == tutor_ai
    entry = LedgerEntry.objects.get(kind="granted", detail__disclosure_to="Tutor AI Ltd")
    assert entry.detail["verification"] == "card_check"
    assert braintree.state.charged() == []  # nothing charged


@pytest.mark.parametrize(
    ("nonce", "outage", "message"),
    [
        ("fake-processor-declined-visa-nonce", None, "could not be verified"),
        ("not-a-nonce", None, "could not be verified"),
        ("fake-valid-nonce", 503, "unavailable right now"),
        ("", None, "enter your card"),
    ],
    ids=["declined", "unknown-nonce", "gateway-down", "no-nonce"],
)
def test_a_failed_card_check_records_nothing(
    child_and_mum: tuple[Any, Client],
    tutor_ai: ThirdParty,
    braintree: VerifyingFakeBraintree,
    nonce: str,
    outage: int | None,
    message: str,
) -> None:
    child, mum = child_and_mum
    braintree.state.fail_with_status = outage
    ledger_rows = LedgerEntry.objects.count()

    response = mum.post(
        reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk]),
        {"method": "card_check", "payment_method_nonce": nonce},
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not DisclosureConsent.objects.exists()
    assert LedgerEntry.objects.count() == ledger_rows


def test_another_parent_cannot_consent_for_a_child_that_is_not_theirs(
    child_and_mum: tuple[Any, Client],
    tutor_ai: ThirdParty,
    braintree: VerifyingFakeBraintree,
    django_capture_on_commit_callbacks: Any,
) -> None:
    child, _mum = child_and_mum
    consented_child("leo2015", "other@example.org")
    other = signed_in_parent("other@example.org", django_capture_on_commit_callbacks)

    response = other.post(
        reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk]),
        {"method": "card_check", "payment_method_nonce": "fake-valid-nonce"},
    )

    assert response.status_code == 404
    assert braintree.verifications() == []
    assert not DisclosureConsent.objects.exists()
    assert ConsentRecord.objects.count() == 2
