"""Braintree through its official SDK (the only module importing ``braintree``).

Braintree is not integral to the service (consent.reference_data): every call that reaches it passes
``consent.services.disclosure_authorize`` first (:func:`_connection`), naming whose data it carries.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import braintree
from braintree.exceptions.braintree_error import BraintreeError
from braintree.exceptions.invalid_signature_error import InvalidSignatureError
from django.conf import settings

from consent import services as consent_services

from . import GatewayError, GatewayTimeout, InvalidSignature, RefundResult, SaleResult, WebhookEvent

TIMEOUT_ERRORS: tuple[type[Exception], ...] = (
    braintree.exceptions.http.timeout_error.TimeoutError,
    braintree.exceptions.RequestTimeoutError,
    braintree.exceptions.GatewayTimeoutError,
)


def _environment() -> braintree.Environment:
    name = settings.BRAINTREE_ENVIRONMENT
    if name == "local":
        # A local stand-in for Braintree's API (tests, offline development): BRAINTREE_LOCAL_PORT.
        port = str(settings.BRAINTREE_LOCAL_PORT)
        return braintree.Environment("local", "127.0.0.1", port, f"http://127.0.0.1:{port}", False, None)
    return braintree.Environment.parse_environment(name)


PROVIDER = "Braintree (PayPal)"  # its name in the third-party registry


def _connection(*, payer: Any, purpose: str) -> braintree.BraintreeGateway:
    """The SDK's gateway for a call to Braintree, once the disclosure gate let ``payer``'s data (an account, or
    None for nobody's) go there: a child's data never does (consent.services.DisclosureRefused)."""
    consent_services.disclosure_authorize(third_party=PROVIDER, subject=payer, purpose=purpose)
    return _gateway()


def _gateway() -> braintree.BraintreeGateway:
    """The SDK's gateway: for local work only (webhook signatures); calls to Braintree use :func:`_connection`."""
    return braintree.BraintreeGateway(
        braintree.Configuration(
            environment=_environment(),
            merchant_id=settings.BRAINTREE_MERCHANT_ID,
            public_key=settings.BRAINTREE_PUBLIC_KEY,
            private_key=settings.BRAINTREE_PRIVATE_KEY,
            timeout=settings.BRAINTREE_TIMEOUT_SECONDS,
            wrap_http_exceptions=True,  # requests errors become braintree timeout / connection errors
        )
    )


def client_token() -> str:
    try:
        return str(_connection(payer=None, purpose="payment form").client_token.generate())
    except TIMEOUT_ERRORS as exc:
        raise GatewayTimeout(str(exc)) from exc
    except (BraintreeError, ValueError) as exc:
        raise GatewayError(str(exc) or exc.__class__.__name__) from exc


def _sale_result(transaction: braintree.Transaction) -> SaleResult:
    card = getattr(transaction, "credit_card_details", None)
    exp_month = getattr(card, "expiration_month", None) if card else None
    exp_year = getattr(card, "expiration_year", None) if card else None
    return SaleResult(
        success=transaction.status in {"authorized", "submitted_for_settlement", "settling", "settled"},
        transaction_id=transaction.id,
        status=transaction.status,
        card_brand=(getattr(card, "card_type", "") or "") if card else "",
        card_last4=(getattr(card, "last_4", "") or "") if card else "",
        card_exp_month=int(exp_month) if exp_month else None,
        card_exp_year=int(exp_year) if exp_year else None,
        amount=Decimal(str(transaction.amount)) if transaction.amount is not None else None,
        currency=getattr(transaction, "currency_iso_code", "") or "",
        decline_code=getattr(transaction, "processor_response_code", "") or "",
        message=getattr(transaction, "processor_response_text", "") or "",
    )


def sale(*, amount: Decimal, order_id: str, nonce: str, payer: Any) -> SaleResult:
    """Charge ``amount`` with the Drop-in's nonce; ``order_id`` is unique per order (Braintree keeps it).
    ``payer``: the account paying (None: a person without an account, such as a parent proving consent)."""
    try:
        params: dict[str, object] = {
            "amount": str(amount),
            "order_id": order_id,
            "payment_method_nonce": nonce,
            "options": {"submit_for_settlement": True},
        }
        if settings.BRAINTREE_MERCHANT_ACCOUNT_ID:
            params["merchant_account_id"] = settings.BRAINTREE_MERCHANT_ACCOUNT_ID
        result = _connection(payer=payer, purpose="payment").transaction.sale(params)
    except TIMEOUT_ERRORS as exc:
        raise GatewayTimeout(str(exc)) from exc
    except BraintreeError as exc:
        raise GatewayError(str(exc) or exc.__class__.__name__) from exc
    if result.is_success:
        return _sale_result(result.transaction)
    transaction = getattr(result, "transaction", None)
    if transaction is not None:  # processor or gateway decline
        declined = _sale_result(transaction)
        return SaleResult(**{**declined.__dict__, "success": False})
    errors = tuple(f"{e.code}: {e.message}" for e in result.errors.deep_errors)
    return SaleResult(success=False, message=result.message or "", validation_errors=errors)


def find_sale(*, order_id: str, payer: Any) -> SaleResult | None:
    """The successful sale already made for ``order_id`` (after a timeout), or None."""
    try:
        collection = _connection(payer=payer, purpose="payment").transaction.search(
            braintree.TransactionSearch.order_id == order_id
        )
        for transaction in collection.items:
            found = _sale_result(transaction)
            if found.success:
                return found
    except TIMEOUT_ERRORS as exc:
        raise GatewayTimeout(str(exc)) from exc
    except BraintreeError as exc:
        raise GatewayError(str(exc) or exc.__class__.__name__) from exc
    return None


def refund(*, transaction_id: str, payer: Any) -> RefundResult:
    try:
        result = _connection(payer=payer, purpose="refund").transaction.refund(transaction_id)
    except TIMEOUT_ERRORS as exc:
        raise GatewayTimeout(str(exc)) from exc
    except BraintreeError as exc:
        raise GatewayError(str(exc) or exc.__class__.__name__) from exc
    if result.is_success:
        return RefundResult(success=True, transaction_id=result.transaction.id)
    return RefundResult(success=False, message=result.message or "")


def parse_webhook(*, signature: str, payload: str) -> WebhookEvent:
    try:
        notification = _gateway().webhook_notification.parse(signature, payload)
    except (InvalidSignatureError, BraintreeError, ValueError, TypeError) as exc:
        raise InvalidSignature(str(exc)) from exc
    digest = hashlib.sha256(payload.encode()).hexdigest()
    transaction_id = ""
    dispute_status = ""
    if getattr(notification, "dispute", None) is not None:
        dispute = notification.dispute
        dispute_status = getattr(dispute, "status", "") or ""
        transaction_id = getattr(getattr(dispute, "transaction", None), "id", "") or ""
    elif getattr(notification, "transaction", None) is not None:
        transaction_id = notification.transaction.id or ""
    return WebhookEvent(
        notification_id=digest, kind=notification.kind, transaction_id=transaction_id, dispute_status=dispute_status
    )


def sample_webhook(*, kind: str, subject_id: str) -> dict[str, str]:
    """A notification signed with our keys, as Braintree would send it (tests and the demo use it)."""
    sample = _gateway().webhook_testing.sample_notification(kind, subject_id)
    return {key: value.decode() if isinstance(value, bytes) else str(value) for key, value in sample.items()}


# --- Card check for parental consent ------------------------------------------------------------------------
# The 2025 COPPA amendment: disclosing a child's data to a non-integral third party needs a stronger method than
# email plus. A zero-amount card verification (nothing charged) through Braintree is one (consent/portal.py).
@dataclass(frozen=True)
class CardVerification:
    success: bool
    verification_id: str = ""
    status: str = ""
    card_brand: str = ""
    card_last4: str = ""
    message: str = ""


def verify_card(*, nonce: str, payer: Any) -> CardVerification:
    """Verify the card behind a Drop-in nonce for a zero amount: nothing is charged and nothing is stored."""
    try:
        params: dict[str, object] = {"payment_method_nonce": nonce, "options": {"amount": "0.00"}}
        if settings.BRAINTREE_MERCHANT_ACCOUNT_ID:
            params["options"] = {"amount": "0.00", "merchant_account_id": settings.BRAINTREE_MERCHANT_ACCOUNT_ID}
        result = _connection(payer=payer, purpose="card verification").verification.create(params)
    except TIMEOUT_ERRORS as exc:
        raise GatewayTimeout(str(exc)) from exc
    except BraintreeError as exc:
        raise GatewayError(str(exc) or exc.__class__.__name__) from exc
    verification = result.verification if result.is_success else result.credit_card_verification
    card = getattr(verification, "credit_card", None) or {}
    return CardVerification(
        success=bool(result.is_success) and getattr(verification, "status", "") == "verified",
        verification_id=getattr(verification, "id", "") or "",
        status=getattr(verification, "status", "") or "",
        card_brand=(card.get("card_type", "") if isinstance(card, dict) else "") or "",
        card_last4=(card.get("last_4", "") if isinstance(card, dict) else "") or "",
        message=(getattr(result, "message", "") or "") if not result.is_success else "",
    )
