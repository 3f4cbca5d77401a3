"""Consent receipts: the Kantara Consent Receipt fields, signed with Ed25519; the command verifies a receipt
and refuses a modified one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from consent import ledger, receipts
from consent.models import ConsentRecord, LedgerEntry
from tests.consent.portal_helpers import consented_child, signed_in_parent

pytestmark = pytest.mark.django_db

KANTARA_FIELDS = {
    "version", "jurisdiction", "consentTimestamp", "collectionMethod", "consentReceiptID", "publicKey", "language",
    "piiPrincipalId", "piiControllers", "policyUrl", "services", "sensitive", "spiCat",
}  # fmt: skip


def test_the_portal_receipt_has_the_kantara_fields_and_verifies(
    django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    child = consented_child("mia2016", "mum@example.org")
    mum = signed_in_parent("mum@example.org", django_capture_on_commit_callbacks)

    response = mum.get(reverse("consent:portal_receipt", args=[child.pk]))
    document = json.loads(response.content)

    assert KANTARA_FIELDS <= set(document)
    assert document["piiPrincipalId"] == ledger.child_pseudonym(child.pk)
    assert "mia2016" not in response.content.decode()  # a pseudonym, never the login
    purpose = document["services"][0]["purposes"][0]
    assert purpose["consentType"] == "EXPLICIT"
    assert purpose["primaryPurpose"] is True
    granted = LedgerEntry.objects.get(subject=ledger.child_pseudonym(child.pk), kind="granted")
    assert document["ledgerEntry"]["seq"] == granted.seq  # the "granted" row (seq: a sequence, not reset by tests)
    path = tmp_path / "receipt.json"
    path.write_bytes(response.content)
    out = __import__("io").StringIO()
    call_command("consent_verify_receipt", str(path), stdout=out)
    assert "verifies" in out.getvalue()


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(consentTimestamp=d["consentTimestamp"] - 86400),
        lambda d: d.update(piiPrincipalId="0" * 32),
        lambda d: d["services"][0]["purposes"][0].update(thirdPartyDisclosure=False, thirdPartyName=""),
        lambda d: d["signature"].update(value=d["signature"]["value"][::-1]),
        lambda d: d.pop("signature"),
    ],
    ids=["back-dated", "other-child", "hidden-disclosure", "forged-signature", "unsigned"],
)
def test_a_modified_receipt_does_not_verify(change: Any, tmp_path: Path) -> None:
    child = consented_child("leo2015", "dad@example.org")
    document = receipts.receipt_build(record=ConsentRecord.objects.get(child=child))
    assert receipts.receipt_verify(document)
    change(document)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(document))

    assert not receipts.receipt_verify(document)
    with pytest.raises(CommandError, match="does NOT verify"):
        call_command("consent_verify_receipt", str(path))


def test_a_receipt_signed_with_another_key_does_not_verify(settings: Any) -> None:
    child = consented_child("ava2014", "ma@example.org")
    document = receipts.receipt_build(record=ConsentRecord.objects.get(child=child))
    settings.CONSENT_RECEIPT_SIGNING_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

    assert not receipts.receipt_verify(document)
    assert receipts.receipt_verify(document, public_key=document["publicKey"]) is True  # its own key: still genuine
