"""The consent app's Ed25519 key: it signs consent receipts and the ledger's checkpoints.

The private key comes from CONSENT_RECEIPT_SIGNING_KEY (32 bytes, base64), or is derived from
DJANGO_SECRET_KEY when that is empty.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings


def signing_key() -> Ed25519PrivateKey:
    configured = settings.CONSENT_RECEIPT_SIGNING_KEY
    if configured:
        raw = base64.b64decode(configured)
    else:
        raw = hashlib.sha256(b"mindomo.consent.receipt:" + settings.SECRET_KEY.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_b64() -> str:
    raw = signing_key().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode()
