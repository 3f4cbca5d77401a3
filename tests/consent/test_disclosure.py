"""Stronger verification (2025 COPPA amendment): the third-party registry drives the method. With no active
non-integral provider, email plus covers everything; with one, its disclosure needs the parent's separate consent
by one of consent.verification's methods, never email plus nor a zero-amount card check: a small card charge
refunded at once through Braintree (the real SDK against a local fake at the HTTP boundary, the parent emailed
over real SMTP), or a signed form a privacy officer reviews on the desk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from consent.models import ConsentRecord, DisclosureConsent, LedgerEntry, SignedConsentForm, ThirdParty
from consent.selectors import third_parties_needing_separate_consent
from tests.consent.fake_braintree_verify import VerifyingFakeBraintree, configure
from tests.consent.portal_helpers import consented_child, signed_in_parent
from tests.support.smtp import SmtpSink, body_text

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


def test_a_card_charge_refunded_at_once_records_the_separate_consent_and_tells_the_parent(
    child_and_mum: tuple[Any, Client],
    tutor_ai: ThirdParty,
    braintree: VerifyingFakeBraintree,
    smtp_sink: SmtpSink,
    django_capture_on_commit_callbacks: Any,
) -> None:
    child, mum = child_and_mum
    page = mum.get(reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk])).content.decode()
    assert "A small card charge, refunded at once" in page
    assert "A signed consent form" in page
    url = reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk])

    with django_capture_on_commit_callbacks(execute=True):
        mum.post(url, {"method": "card_charge", "payment_method_nonce": "fake-valid-nonce"})
        mum.post(url, {"method": "card_charge", "payment_method_nonce": "fake-valid-nonce"})  # double submit

    (charge,) = braintree.state.charged()
    assert charge.amount == "0.50"
    (refund,) = [s for s in braintree.state.sales if s.kind == "credit"]
    assert refund.amount == "0.50"
    consent = DisclosureConsent.objects.get()
    assert consent.method == "card_charge"
    assert consent.verification_ref == f"charge:{charge.id}"
    assert consent.record.child_id == child.pk
    entry = LedgerEntry.objects.get(kind="granted", detail__disclosure_to="Tutor AI Ltd")
    assert entry.detail["verification"] == "card_charge"
    assert braintree.verifications() == []  # no zero-amount check any more
    letter = body_text(smtp_sink.wait_for(to=MUM, subject_contains="charged and refunded"))
    assert "we charged 0.50 to your card" in letter
    assert "We refunded it at once" in letter


def test_the_zero_amount_card_check_alone_is_no_longer_accepted(
    child_and_mum: tuple[Any, Client], tutor_ai: ThirdParty, braintree: VerifyingFakeBraintree
) -> None:
    child, mum = child_and_mum
    response = mum.post(
        reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk]),
        {"method": "card_check", "payment_method_nonce": "fake-valid-nonce"},
        follow=True,
    )
    assert "a small card charge refunded at once, or a signed consent form" in response.content.decode()
    assert not DisclosureConsent.objects.exists()
    assert braintree.verifications() == []


@pytest.mark.parametrize(
    ("nonce", "outage", "message"),
    [
        ("fake-processor-declined-visa-nonce", None, "could not be charged"),
        ("not-a-nonce", None, "could not be charged"),
        ("fake-valid-nonce", 503, "unavailable right now"),
        ("", None, "enter your card"),
    ],
    ids=["declined", "unknown-nonce", "gateway-down", "no-nonce"],
)
def test_a_failed_card_charge_records_nothing(
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
        {"method": "card_charge", "payment_method_nonce": nonce},
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not DisclosureConsent.objects.exists()
    assert LedgerEntry.objects.count() == ledger_rows


PDF = b"%PDF-1.4\n% signed by the parent\n%%EOF\n"


def _upload(mum: Client, child: Any, tutor_ai: ThirdParty, content: bytes = PDF, name: str = "form.pdf") -> Any:
    return mum.post(
        reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk]),
        {"method": "signed_form", "signed_form": SimpleUploadedFile(name, content)},
        follow=True,
    )


@pytest.mark.parametrize("approve", [True, False], ids=["approved", "rejected"])
def test_a_signed_form_is_reviewed_by_a_privacy_officer_on_the_desk(
    child_and_mum: tuple[Any, Client],
    tutor_ai: ThirdParty,
    smtp_sink: SmtpSink,
    settings: Any,
    tmp_path: Any,
    privacy_officer_user: Any,
    support_user: Any,
    approve: bool,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.support.mfa import sign_in

    settings.MEDIA_ROOT = tmp_path
    child, mum = child_and_mum
    printable = mum.get(reverse("consent:portal_disclosure_form", args=[child.pk, tutor_ai.pk])).content.decode()
    assert "I consent to Mindomo sharing my child" in printable
    assert "mia2016" in printable

    assert "Our staff will check your signed form" in _upload(mum, child, tutor_ai).content.decode()
    assert "already waiting for our review" in _upload(mum, child, tutor_ai).content.decode()
    form = SignedConsentForm.objects.get()
    assert form.outcome == "pending"
    assert not DisclosureConsent.objects.exists()  # nothing is shared before the review

    file_url = reverse("admin:consent_signedconsentform_file", args=[form.pk])
    assert sign_in(Client(), support_user).get(file_url).status_code == 403
    officer = sign_in(Client(), privacy_officer_user)
    download = officer.get(file_url)
    assert b"".join(download.streaming_content) == PDF
    with django_capture_on_commit_callbacks(execute=True):
        reviewed = officer.post(
            reverse("admin:consent_signedconsentform_changelist"),
            {"action": "approve" if approve else "reject", "_selected_action": [form.pk]},
        )
    assert reviewed.status_code == 302, reviewed.content.decode()[:2000]

    form.refresh_from_db()
    assert form.outcome == ("approved" if approve else "rejected")
    assert form.reviewed_by == privacy_officer_user
    letter = body_text(smtp_sink.wait_for(to=MUM, subject_contains="signed consent form was reviewed"))
    if approve:
        consent = DisclosureConsent.objects.get()
        assert consent.method == "signed_form"
        assert consent.verification_ref == f"form:{form.pk}"
        entry = LedgerEntry.objects.get(kind="granted", detail__disclosure_to="Tutor AI Ltd")
        assert entry.detail["verification"] == "signed_form"
        assert "is recorded" in letter
    else:
        assert not DisclosureConsent.objects.exists()
        assert "nothing was recorded and nothing is shared" in letter


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"just some text", "form.txt", "as a PDF, JPEG or PNG"),
        (b"", "empty.pdf", "choose the signed form"),
    ],
    ids=["not-a-document", "empty"],
)
def test_a_bad_signed_form_is_refused(
    child_and_mum: tuple[Any, Client],
    tutor_ai: ThirdParty,
    settings: Any,
    tmp_path: Any,
    content: bytes,
    name: str,
    message: str,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    child, mum = child_and_mum
    assert message in _upload(mum, child, tutor_ai, content, name).content.decode()
    assert not SignedConsentForm.objects.exists()


def test_erasing_the_child_deletes_the_signed_form_file(
    child_and_mum: tuple[Any, Client], tutor_ai: ThirdParty, settings: Any, tmp_path: Any
) -> None:
    from accounts import services as account_services

    settings.MEDIA_ROOT = tmp_path
    child, mum = child_and_mum
    _upload(mum, child, tutor_ai)
    path = SignedConsentForm.objects.get().file.path
    assert open(path, "rb").read() == PDF

    account_services.account_erase_now(user=child, requested_by="test", reason="test")

    assert not SignedConsentForm.objects.exists()
    assert not os.path.exists(path)


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
        {"method": "card_charge", "payment_method_nonce": "fake-valid-nonce"},
    )

    assert response.status_code == 404
    assert braintree.verifications() == []
    assert not DisclosureConsent.objects.exists()
    assert ConsentRecord.objects.count() == 2
