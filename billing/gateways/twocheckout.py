"""2Checkout (Verifone): hosted checkout links and IPN signatures, as documented (no maintained SDK).

IPN ``HASH``: for every received value in order (the HASH itself excepted), its UTF-8 byte length then
the value (empty as ``0``), HMAC with the secret key: legacy MD5, current SHA-256 (``SIGNATURE_SHA2_256``).
The listener answers with a read receipt signed over IPN_PID[0], IPN_PNAME[0], IPN_DATE and our DATE.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings

from . import InvalidSignature

SIGNATURE_FIELDS = {"HASH", "SIGNATURE_SHA2_256", "SIGNATURE_SHA3_256"}
ALGORITHMS = {"md5": hashlib.md5, "sha256": hashlib.sha256}


def lp(value: str) -> str:
    """A value prefixed with its UTF-8 byte length (the documented serialisation)."""
    return f"{len(value.encode())}{value}"


def serialize(values: Iterable[str]) -> str:
    return "".join(lp(v) for v in values)


def hmac_hex(*, key: str, message: str, algorithm: str) -> str:
    return hmac.new(key.encode(), message.encode(), ALGORITHMS[algorithm]).hexdigest()


def ipn_base_string(fields: Sequence[tuple[str, list[str]]]) -> str:
    values: list[str] = []
    for name, field_values in fields:
        if name in SIGNATURE_FIELDS:
            continue
        values.extend(field_values)
    return serialize(values)


@dataclass(frozen=True)
class Ipn:
    algorithm: str
    values: dict[str, str]  # the first value of each field
    signature: str  # the verified signature: a delivery replayed carries the same one

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def verify_ipn(fields: Sequence[tuple[str, list[str]]], *, secret_key: str | None = None) -> Ipn:
    """Check an IPN's signature (SHA-256 when sent, else the legacy MD5 HASH). Raises InvalidSignature."""
    key = secret_key if secret_key is not None else settings.TWOCHECKOUT_SECRET_KEY
    received = {name: values for name, values in fields}
    if received.get("SIGNATURE_SHA2_256", [""])[0]:
        algorithm, signature = "sha256", received["SIGNATURE_SHA2_256"][0]
    elif received.get("HASH", [""])[0]:
        algorithm, signature = "md5", received["HASH"][0]
    else:
        raise InvalidSignature("no signature")
    if not key:
        raise InvalidSignature("no secret key configured")
    expected = hmac_hex(key=key, message=ipn_base_string(fields), algorithm=algorithm)
    if not hmac.compare_digest(expected, signature.lower()):
        raise InvalidSignature("signature mismatch")
    return Ipn(algorithm=algorithm, values={n: (v[0] if v else "") for n, v in fields}, signature=signature.lower())


def read_receipt(ipn: Ipn, *, date: str, secret_key: str | None = None) -> str:
    """The answer 2Checkout expects, signed like the IPN (``date`` is YmdHis, UTC)."""
    key = secret_key if secret_key is not None else settings.TWOCHECKOUT_SECRET_KEY
    message = serialize([ipn.get("IPN_PID[]"), ipn.get("IPN_PNAME[]"), ipn.get("IPN_DATE"), date])
    digest = hmac_hex(key=key, message=message, algorithm=ipn.algorithm)
    if ipn.algorithm == "md5":
        return f"<EPAYMENT>{date}|{digest}</EPAYMENT>"
    return f'<sig algo="{ipn.algorithm}" date="{date}">{digest}</sig>'


def checkout_url(
    *, order_reference: str, product_name: str, amount: Decimal, currency: str, return_url: str, email: str = ""
) -> str:
    """The hosted checkout (Buy Link) for one dynamic product, signed with the Buy Link secret word."""
    params = {
        "merchant": settings.TWOCHECKOUT_MERCHANT_CODE,
        "dynamic": "1",
        "currency": currency,
        "prod": product_name,
        "price": str(amount),
        "qty": "1",
        "type": "digital",
        "tangible": "0",
        "order-ext-ref": order_reference,
        "return-url": return_url,
        "return-type": "redirect",
    }
    if settings.TWOCHECKOUT_TEST_MODE:
        params["test"] = "1"
    signed = {k: v for k, v in params.items() if k not in {"merchant", "test"}}
    params["signature"] = hmac_hex(
        key=settings.TWOCHECKOUT_BUY_LINK_SECRET,
        message=serialize(signed[k] for k in sorted(signed)),
        algorithm="sha256",
    )
    if email:
        params["email"] = email
    return f"{settings.TWOCHECKOUT_CHECKOUT_URL}?{urlencode(params)}"
