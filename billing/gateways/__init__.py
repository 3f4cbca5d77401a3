"""Payment gateways. The ONLY place that imports the braintree SDK or computes 2Checkout signatures.

Each gateway returns small dataclasses, so the rest of the app never sees an SDK object.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


class GatewayError(Exception):
    """The gateway could not be reached or answered with an error (nothing was charged as far as we know)."""


class GatewayTimeout(GatewayError):
    """The gateway did not answer in time: the charge may or may not have happened."""


class InvalidSignature(Exception):
    """A notification whose signature does not verify."""


@dataclass(frozen=True)
class SaleResult:
    success: bool
    transaction_id: str = ""
    status: str = ""
    card_brand: str = ""
    card_last4: str = ""
    card_exp_month: int | None = None
    card_exp_year: int | None = None
    amount: Decimal | None = None
    currency: str = ""
    decline_code: str = ""
    message: str = ""
    validation_errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefundResult:
    success: bool
    transaction_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    notification_id: str  # a digest of the signed payload: the same delivery replayed has the same id
    kind: str
    transaction_id: str
    dispute_status: str = ""
