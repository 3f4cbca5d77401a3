"""Consent receipts: the Kantara Initiative Consent Receipt (v1.1) fields, signed by the server with Ed25519.

The receipt names the child by the ledger's pseudonym (``piiPrincipalId``), never by login or name. The
signature covers the canonical JSON (sorted keys, no spaces) of the receipt without its ``signature``
member. The private key comes from CONSENT_RECEIPT_SIGNING_KEY (32 bytes, base64), or is derived from
DJANGO_SECRET_KEY when that is empty; ``manage.py consent_verify_receipt`` checks a receipt.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from . import ledger, signing
from .models import ConsentMethod, ConsentRecord, LedgerEntry
from .selectors import integral_third_parties

SPEC_VERSION = "KI-CR-v1.1.0"
ALGORITHM = "Ed25519"


_private_key = signing.signing_key
public_key_b64 = signing.public_key_b64


def canonical(document: dict[str, Any]) -> bytes:
    body = {key: value for key, value in document.items() if key != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def receipt_build(*, record: ConsentRecord, now: Any = None) -> dict[str, Any]:
    """A signed receipt for one child's consent (the parent downloads it from the portal)."""
    now = now or timezone.now()
    subject = ledger.child_pseudonym(record.child_id)
    granted = LedgerEntry.objects.filter(subject=subject, kind="granted").order_by("seq").first()
    if granted is None:  # a school's consent for a batch of children (a OneRoster import): its batch entry
        granted = ledger.batch_entry_for(subject, kind="granted")
    third_parties = integral_third_parties()
    site = settings.SITE_URL.rstrip("/")
    methods: dict[str, str] = {
        ConsentMethod.EMAIL_PLUS.value: "parental consent by email (email plus) through the parent's link",
        ConsentMethod.SCHOOL.value: "consent of the school, limited to the educational context",
    }
    method = methods.get(record.method, record.method)
    document: dict[str, Any] = {
        "version": SPEC_VERSION,
        "jurisdiction": record.rule.jurisdiction if record.rule else str(record.child.country or ""),
        "consentTimestamp": int(record.granted_at.timestamp()),
        "collectionMethod": method,
        "consentReceiptID": str(uuid.uuid4()),
        "publicKey": public_key_b64(),
        "language": "en",
        "piiPrincipalId": subject,
        "piiControllers": [
            {
                "piiController": settings.SELLER_NAME,
                "onBehalf": False,
                "contact": "Privacy",
                "address": settings.SELLER_ADDRESS,
                "email": settings.CONSENT_SUPPORT_EMAIL,
                "phone": "",
                "piiControllerUrl": site,
            }
        ],
        "policyUrl": site + reverse("privacy_policy"),
        "services": [
            {
                "service": "Mindomo",
                "purposes": [
                    {
                        "purpose": "Run the child's account and the service (mind maps, classes, grades).",
                        "purposeCategory": ["Core Function"],
                        "consentType": "EXPLICIT",
                        "piiCategory": ["Login (username or email)", "Password hash", "Country"],
                        "primaryPurpose": True,
                        "termination": "Until a parent withdraws consent or deletes the account in the parent portal.",
                        "thirdPartyDisclosure": bool(third_parties),
                        "thirdPartyName": ", ".join(p.name for p in third_parties),
                    }
                ],
            }
        ],
        "sensitive": False,
        "spiCat": [],
        # Beyond the specification's fields: what the ledger proves.
        "policyVersion": record.policy_version,
        "ageRuleVersion": record.rule.version if record.rule else None,
        "ledgerEntry": {"seq": granted.seq, "hash": granted.hash} if granted else None,
        "issuedAt": now.isoformat(),
    }
    signature = _private_key().sign(canonical(document))
    document["signature"] = {"alg": ALGORITHM, "value": base64.b64encode(signature).decode()}
    return document


def receipt_verify(document: Any, *, public_key: str | None = None) -> bool:
    """True when the receipt's signature verifies with our key (or ``public_key``, base64)."""
    if not isinstance(document, dict):
        return False
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("alg") != ALGORITHM:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key or public_key_b64()))
        key.verify(base64.b64decode(str(signature.get("value", ""))), canonical(document))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
