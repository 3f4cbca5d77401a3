"""Writes on billing. Views, admin actions, tasks and commands call these; they never save a model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from mindomo import bulk, privacy

from . import emails, selectors, vat
from .gateways import GatewayError, GatewayTimeout, SaleResult, twocheckout
from .gateways import braintree_gateway as braintree
from .models import BillingEvent, Gateway, Invoice, InvoiceCounter, Order, Plan, ProcessedNotification

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)
BATCH_SIZE = 10_000
PAID_IPN_STATUSES = {"COMPLETE", "PAYMENT_AUTHORIZED"}
REFUND_IPN_STATUSES = {"REFUND", "REVERSED"}


def _event(
    *, kind: str, order: Order | None = None, invoice: Invoice | None = None, actor: Any = None, detail: str = ""
) -> None:
    BillingEvent.objects.create(
        kind=kind,
        order=order,
        order_reference=str(order.reference) if order else "",
        invoice_number=invoice.number if invoice else "",
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        detail=detail[:200],
    )


def _refuse_unless_allowed(user: Any) -> None:
    if not selectors.purchase_allowed(user):
        raise ValidationError(
            _(
                "Purchases are only open to adults with a verified email address. Children's and "
                "school accounts cannot buy."
            ),
            code="purchase_not_allowed",
        )


# --- orders ----------------------------------------------------------------------------------------
@transaction.atomic
def order_create(
    *,
    user: User,
    plan: Plan,
    full_name: str,
    country: str,
    vat_id: str,
    address: str,
    city: str,
    postal_code: str,
    state: str,
    phone: str,
) -> Order:
    _refuse_unless_allowed(user)
    if not plan.is_active:
        raise ValidationError(_("This plan is no longer on sale."), code="plan_inactive")
    vat_id = vat.validate_vat_id(vat_id=vat_id, country=country)
    price = vat.price_for(net=plan.price, country=country, vat_id=vat_id)
    order = Order.objects.create(
        user=user,
        plan=plan,
        full_name=full_name.strip(),
        country=country,
        vat_id=vat_id,
        address=address.strip(),
        city=city.strip(),
        postal_code=postal_code.strip(),
        state=state.strip(),
        phone=phone.strip(),
        currency=plan.currency,
        net_amount=price.net,
        vat_rate=price.vat_rate,
        vat_amount=price.vat,
        total=price.total,
        reverse_charge=price.reverse_charge,
    )
    _event(kind=BillingEvent.Kind.ORDER_CREATED, order=order, actor=user)
    return order


def _order_record_payment(*, order: Order, gateway: str, result: SaleResult) -> Invoice:
    """Mark a locked pending order paid and issue its invoice, in the caller's transaction."""
    order.status = Order.Status.PAID
    order.paid_at = timezone.now()
    order.gateway = gateway
    order.gateway_transaction_id = result.transaction_id
    order.card_brand = result.card_brand[:40]
    order.card_last4 = result.card_last4 if result.card_last4.isdigit() and len(result.card_last4) == 4 else ""
    order.card_exp_month = result.card_exp_month
    order.card_exp_year = result.card_exp_year
    order.charge_outcome_unknown = False
    order.save(
        update_fields=[
            "status",
            "paid_at",
            "gateway",
            "gateway_transaction_id",
            "card_brand",
            "card_last4",
            "card_exp_month",
            "card_exp_year",
            "charge_outcome_unknown",
        ]
    )
    _event(kind=BillingEvent.Kind.PAYMENT_SUCCEEDED, order=order, detail=f"{gateway} {result.transaction_id}")
    return invoice_issue(order=order)


@dataclass(frozen=True)
class PaymentOutcome:
    order: Order
    invoice: Invoice | None
    error: str = ""


def order_pay_braintree(*, user: User, order_reference: str, nonce: str) -> PaymentOutcome:
    """Charge an order once with a Drop-in nonce.

    The order row is locked for the whole attempt, so a double submit waits and then finds it paid; the
    order's reference is sent as Braintree's order id; after a timeout the next attempt first asks
    Braintree whether that order id was charged. Declines and gateway errors leave the order unpaid.
    """
    if not nonce or len(nonce) > 200:
        raise ValidationError(_("The payment form was incomplete. Please enter your card again."), code="nonce")
    with transaction.atomic():
        try:
            order = Order.objects.select_for_update().get(reference=order_reference, user=user)
        except (Order.DoesNotExist, ValidationError, ValueError) as exc:
            raise ValidationError(_("This order does not exist."), code="order_missing") from exc
        if order.status != Order.Status.PENDING:
            return PaymentOutcome(order=order, invoice=order.invoices.filter(kind=Invoice.Kind.INVOICE).first())
        _refuse_unless_allowed(user)
        try:
            found = (
                braintree.find_sale(order_id=str(order.reference), payer=user) if order.charge_outcome_unknown else None
            )
            result = found or braintree.sale(amount=order.total, order_id=str(order.reference), nonce=nonce, payer=user)
        except GatewayTimeout:
            order.charge_outcome_unknown = True
            order.save(update_fields=["charge_outcome_unknown"])
            _event(kind=BillingEvent.Kind.PAYMENT_UNKNOWN, order=order)
            return PaymentOutcome(
                order=order,
                invoice=None,
                error=_(
                    "The payment service did not answer in time. Your card may not have been charged; please "
                    "try again: you will never be charged twice for this order."
                ),
            )
        except GatewayError as exc:
            # A server error may come after the charge: the next attempt asks Braintree first, as after a timeout.
            logger.warning("braintree error for order %s: %s", order.reference, exc)
            order.charge_outcome_unknown = True
            order.save(update_fields=["charge_outcome_unknown"])
            _event(kind=BillingEvent.Kind.PAYMENT_ERROR, order=order, detail=str(exc))
            return PaymentOutcome(
                order=order,
                invoice=None,
                error=_(
                    "The payment service is unavailable right now. Please try again later: you will never be "
                    "charged twice for this order."
                ),
            )
        if not result.success:
            _event(
                kind=BillingEvent.Kind.PAYMENT_DECLINED,
                order=order,
                detail=result.decline_code or "; ".join(result.validation_errors),
            )
            if result.validation_errors:
                message = _(
                    "The payment details were not accepted. You were not charged; please check them and try again."
                )
            else:
                message = _("Your card was declined (%(reason)s). You were not charged; please try another card.") % {
                    "reason": result.message or _("no reason given")
                }
            return PaymentOutcome(order=order, invoice=None, error=message)
        if result.amount is not None and result.amount != order.total:
            _event(kind=BillingEvent.Kind.PAYMENT_ERROR, order=order, detail="amount mismatch")
            return PaymentOutcome(
                order=order,
                invoice=None,
                error=_("The payment service answered with an unexpected amount. Please contact us."),
            )
        invoice = _order_record_payment(order=order, gateway=Gateway.BRAINTREE, result=result)
        return PaymentOutcome(order=order, invoice=invoice)


def order_twocheckout_url(*, user: User, order: Order, return_url: str) -> str:
    _refuse_unless_allowed(user)
    if order.status != Order.Status.PENDING:
        raise ValidationError(_("This order is already paid."), code="already_paid")
    return twocheckout.checkout_url(
        order_reference=str(order.reference),
        product_name=order.plan.name,
        amount=order.total,
        currency=order.currency,
        return_url=return_url,
        email=user.email,
    )


def _claim_notification(*, gateway: str, notification_id: str, kind: str) -> bool:
    """Insert the notification's id; False if it was processed before (exactly-once)."""
    try:
        with transaction.atomic():
            ProcessedNotification.objects.create(gateway=gateway, notification_id=notification_id, kind=kind[:64])
    except IntegrityError:
        return False
    return True


def twocheckout_ipn_process(*, fields: list[tuple[str, list[str]]], now: datetime | None = None) -> str:
    """Verify and apply a 2Checkout IPN once; return the read receipt. Raises InvalidSignature/ValidationError."""
    ipn = twocheckout.verify_ipn(fields)
    date_str = (now or timezone.now()).astimezone(UTC).strftime("%Y%m%d%H%M%S")
    receipt = twocheckout.read_receipt(ipn, date=date_str)
    status = ipn.get("ORDERSTATUS")
    with transaction.atomic():
        if not _claim_notification(gateway=Gateway.TWOCHECKOUT, notification_id=ipn.signature, kind=status):
            return receipt  # a replay: acknowledged, nothing changes
        if status not in PAID_IPN_STATUSES | REFUND_IPN_STATUSES:
            return receipt
        try:
            order = Order.objects.select_for_update().filter(reference=ipn.get("REFNOEXT")).first()
        except (ValidationError, ValueError):
            order = None
        if status in REFUND_IPN_STATUSES:
            # The invoice (which outlives a deleted account and its order) is found by 2Checkout's reference.
            invoice = (
                Invoice.objects.select_for_update()
                .filter(gateway=Gateway.TWOCHECKOUT, gateway_transaction_id=ipn.get("REFNO"), kind=Invoice.Kind.INVOICE)
                .first()
            )
            if invoice is not None and not Invoice.objects.filter(credited_invoice=invoice).exists():
                _credit(invoice=invoice, order=order, actor=None, detail="2checkout " + status)
            return receipt
        if order is None:
            raise ValidationError(_("The notification names an unknown order."), code="ipn_order")
        if order.status != Order.Status.PENDING:
            return receipt
        try:
            paid = Decimal(ipn.get("IPN_TOTALGENERAL"))
        except ArithmeticError as exc:
            raise ValidationError(_("The notification's amount is not a number."), code="ipn_amount") from exc
        if paid != order.total or ipn.get("CURRENCY").upper() != order.currency:
            raise ValidationError(_("The notification's amount does not match the order."), code="ipn_amount")
        _order_record_payment(
            order=order,
            gateway=Gateway.TWOCHECKOUT,
            result=SaleResult(success=True, transaction_id=ipn.get("REFNO")[:64]),
        )
    return receipt


def braintree_webhook_process(*, signature: str, payload: str) -> bool:
    """Verify a Braintree webhook with the SDK and apply it once. False if it was a replay."""
    event = braintree.parse_webhook(signature=signature, payload=payload)
    with transaction.atomic():
        if not _claim_notification(gateway=Gateway.BRAINTREE, notification_id=event.notification_id, kind=event.kind):
            return False
        order = (
            Order.objects.select_for_update()
            .filter(gateway=Gateway.BRAINTREE, gateway_transaction_id=event.transaction_id)
            .first()
            if event.transaction_id
            else None
        )
        if order is None:
            return True
        if event.kind.startswith("dispute_"):
            order.dispute_status = (event.dispute_status or event.kind.removeprefix("dispute_"))[:32]
            order.save(update_fields=["dispute_status"])
            _event(kind=BillingEvent.Kind.DISPUTE, order=order, detail=event.kind)
        elif event.kind.startswith("transaction_settle"):
            _event(kind=BillingEvent.Kind.SETTLEMENT, order=order, detail=event.kind)
    return True


# --- invoices --------------------------------------------------------------------------------------
def _next_number(*, series: str, year: int) -> int:
    """The next gapless number: the counter row is locked until the caller's transaction ends."""
    InvoiceCounter.objects.bulk_create([InvoiceCounter(series=series, year=year)], ignore_conflicts=True)
    counter = InvoiceCounter.objects.select_for_update().get(series=series, year=year)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


def _seller() -> dict[str, str]:
    return {
        "name": settings.SELLER_NAME,
        "address": settings.SELLER_ADDRESS,
        "country": settings.SELLER_COUNTRY,
        "vat_id": settings.SELLER_VAT_ID,
        "email": settings.SELLER_EMAIL,
    }


def _enqueue_invoice_email(invoice: Invoice) -> None:
    emails.invoice_email_send(invoice=invoice)


@transaction.atomic
def invoice_issue(*, order: Order) -> Invoice:
    """Issue the invoice of a paid order: a snapshot of seller, buyer and billing details, and the lines."""
    if order.status != Order.Status.PAID:
        raise ValidationError(_("Only a paid order gets an invoice."), code="not_paid")
    existing = order.invoices.filter(kind=Invoice.Kind.INVOICE).first()
    if existing is not None:
        return existing
    issued_at = timezone.now()
    year = issued_at.year
    series = Invoice.SERIES[Invoice.Kind.INVOICE]
    sequence = _next_number(series=series, year=year)
    user = order.user
    plan = order.plan
    invoice = Invoice.objects.create(
        kind=Invoice.Kind.INVOICE,
        series=series,
        year=year,
        sequence=sequence,
        number=f"{series}-{year}-{sequence:06d}",
        issued_at=issued_at,
        user=user,
        order=order,
        seller=_seller(),
        buyer_account_name=(user.get_full_name() or user.username) if user else order.full_name,
        buyer_email=user.email if user else "",
        billing_full_name=order.full_name,
        billing_country=str(order.country),
        billing_vat_id=order.vat_id,
        billing_address=order.address,
        billing_city=order.city,
        billing_postal_code=order.postal_code,
        billing_state=order.state,
        billing_phone=order.phone,
        lines=[
            {
                "description": ngettext("%(plan)s, %(days)s day", "%(plan)s, %(days)s days", plan.duration_days)
                % {"plan": plan.name, "days": plan.duration_days},
                "quantity": 1,
                "unit_price": str(order.net_amount),
                "amount": str(order.net_amount),
            }
        ],
        currency=order.currency,
        net_amount=order.net_amount,
        vat_rate=order.vat_rate,
        vat_amount=order.vat_amount,
        total=order.total,
        reverse_charge=order.reverse_charge,
        gateway=order.gateway,
        gateway_transaction_id=order.gateway_transaction_id,
    )
    _event(kind=BillingEvent.Kind.INVOICE_ISSUED, order=order, invoice=invoice)
    _enqueue_invoice_email(invoice)
    return invoice


def _credit(*, invoice: Invoice, order: Order | None, actor: Any, detail: str) -> Invoice:
    """Issue the credit note of ``invoice`` (locked by the caller) and mark its order refunded."""
    if invoice.kind != Invoice.Kind.INVOICE:
        raise ValidationError(_("A credit note cannot be refunded."), code="credit_note")
    if Invoice.objects.filter(credited_invoice=invoice).exists():
        raise ValidationError(_("This invoice has already been refunded."), code="already_refunded")
    issued_at = timezone.now()
    series = Invoice.SERIES[Invoice.Kind.CREDIT_NOTE]
    sequence = _next_number(series=series, year=issued_at.year)
    credit = Invoice.objects.create(
        kind=Invoice.Kind.CREDIT_NOTE,
        series=series,
        year=issued_at.year,
        sequence=sequence,
        number=f"{series}-{issued_at.year}-{sequence:06d}",
        issued_at=issued_at,
        user=invoice.user,
        order=invoice.order,
        credited_invoice=invoice,
        credited_invoice_number=invoice.number,
        seller=_seller(),
        buyer_account_name=invoice.buyer_account_name,
        buyer_email=invoice.buyer_email,
        billing_full_name=invoice.billing_full_name,
        billing_country=invoice.billing_country,
        billing_vat_id=invoice.billing_vat_id,
        billing_address=invoice.billing_address,
        billing_city=invoice.billing_city,
        billing_postal_code=invoice.billing_postal_code,
        billing_state=invoice.billing_state,
        billing_phone=invoice.billing_phone,
        lines=[
            {**line, "unit_price": str(-Decimal(line["unit_price"])), "amount": str(-Decimal(line["amount"]))}
            for line in invoice.lines
        ],
        currency=invoice.currency,
        net_amount=-invoice.net_amount,
        vat_rate=invoice.vat_rate,
        vat_amount=-invoice.vat_amount,
        total=-invoice.total,
        reverse_charge=invoice.reverse_charge,
        gateway=invoice.gateway,
        gateway_transaction_id=invoice.gateway_transaction_id,
    )
    if order is not None:
        order.status = Order.Status.REFUNDED
        order.save(update_fields=["status"])
    _event(kind=BillingEvent.Kind.REFUNDED, order=order, invoice=credit, actor=actor, detail=detail)
    _enqueue_invoice_email(credit)
    return credit


def invoice_refund(*, invoice_id: int, actor: User) -> Invoice:
    """Refund a Braintree invoice through the gateway and issue its credit note (billing clerks only)."""
    if not actor.has_perm("billing.refund_invoice"):
        raise PermissionDenied
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
        order = Order.objects.select_for_update().filter(invoices=invoice).first()
        if invoice.kind != Invoice.Kind.INVOICE:
            raise ValidationError(_("A credit note cannot be refunded."), code="credit_note")
        if Invoice.objects.filter(credited_invoice=invoice).exists():
            raise ValidationError(_("This invoice has already been refunded."), code="already_refunded")
        if invoice.gateway != Gateway.BRAINTREE:
            raise ValidationError(
                _(
                    "2Checkout orders are refunded in the 2Checkout control panel; the credit note is issued "
                    "when its notification arrives."
                ),
                code="refund_elsewhere",
            )
        try:
            result = braintree.refund(transaction_id=invoice.gateway_transaction_id, payer=invoice.user)
        except GatewayError as exc:
            raise ValidationError(
                _("The payment service could not refund this invoice: %(error)s") % {"error": str(exc)},
                code="refund_gateway",
            ) from exc
        if not result.success:
            raise ValidationError(
                _("The payment service refused the refund: %(error)s") % {"error": result.message},
                code="refund_refused",
            )
        return _credit(invoice=invoice, order=order, actor=actor, detail="braintree " + result.transaction_id)


@dataclass(frozen=True)
class PurgeResult:
    cutoff_year: int
    numbers: list[str]
    deleted: int


def invoices_expired(now: Any = None) -> QuerySet[Invoice]:
    """Invoices whose retention ended: INVOICE_RETENTION_YEARS after the end of their tax year."""
    today = timezone.localdate(now) if now is not None else timezone.localdate()
    return Invoice.objects.filter(year__lt=selectors.retention_cutoff_year(today))


# The purge's keyset: the (year, id) index matches "year < cutoff" (billing_invoice_year_id).
PURGE_KEY = ("year", "id")
PURGE_RETURNING = ("id",)


def invoices_purged(batch: bulk.Batch) -> None:
    """After a batch of invoices was deleted, in the same transaction: credit notes of them lose the link
    (they keep ``credited_invoice_number``; the foreign key is checked at commit), and one audit row."""
    table = connection.ops.quote_name(Invoice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET credited_invoice_id = NULL "  # noqa: S608
            "WHERE credited_invoice_id = ANY(string_to_array(%s, E'\\n')::bigint[])",
            ["\n".join(batch.values("id"))],
        )
    _event(kind=BillingEvent.Kind.INVOICES_PURGED, detail=f"{batch.count} invoices past their retention")


def invoices_purge(*, today: date | None = None, batch_size: int = BATCH_SIZE, dry_run: bool = False) -> PurgeResult:
    """Delete invoices whose retention ended: INVOICE_RETENTION_YEARS after the end of their tax year.

    Set-based, in batches of ``batch_size``: one ``DELETE ... RETURNING`` each in keyset order on the (year, id)
    index, SKIP LOCKED, plus ``invoices_purged`` (``mindomo.bulk``). ``dry_run`` lists what it would delete.
    The retention engine's rule "billing.invoices" runs the same delete from its beat task.
    """
    today = today or timezone.localdate()
    cutoff_year = today.year - settings.INVOICE_RETENTION_YEARS  # tax years before this one are past retention
    expired = Invoice.objects.filter(year__lt=cutoff_year)
    if dry_run:
        return PurgeResult(
            cutoff_year, list(expired.order_by("year", "series", "sequence").values_list("number", flat=True)), 0
        )
    deleted = bulk.delete_in_batches(
        expired, key=PURGE_KEY, size=batch_size, returning=PURGE_RETURNING, after_delete=invoices_purged, bare=True
    )
    return PurgeResult(cutoff_year, [], deleted)


def invoices_download_record(*, actor: User, start: date, end: date, count: int) -> None:
    """A staff member asked for the invoices of a period (every buyer's billing details): one audit row."""
    _event(kind=BillingEvent.Kind.INVOICES_DOWNLOADED, actor=actor, detail=f"{start} to {end}: {count} invoices")


@transaction.atomic(savepoint=False)
def billing_user_erase_statements(*, user: User) -> list[privacy.ErasePart]:
    """Account deletion: invoices are detached and kept as issued (a legal duty); everything else goes."""
    return [
        *privacy.update(Invoice.objects.filter(user_id=user.pk), user=None),
        *privacy.delete(Order.objects.filter(user_id=user.pk)),
    ]


def card_check_client_token() -> str:
    """The Drop-in client token for a parent's card check; "" when Braintree cannot be reached (the page says so)."""
    try:
        return braintree.client_token()
    except GatewayError:
        return ""


def card_verify(*, nonce: str) -> braintree.CardVerification:
    """A zero-amount verification of the card behind a Drop-in nonce (the parent portal's stronger consent
    method): nothing is charged, nothing is stored. ValidationError when Braintree cannot be reached."""
    try:
        return braintree.verify_card(nonce=nonce, payer=None)  # the parent's card; no account's data
    except GatewayError as exc:
        raise ValidationError(
            _("The card check is unavailable right now. Nothing was recorded; please try again later."),
            code="gateway",
        ) from exc


@dataclass(frozen=True)
class ChargeRefunded:
    """A parent's verifying charge: charged, then refunded at once (COPPA's monetary-transaction method)."""

    success: bool
    charge_id: str = ""
    refund_id: str = ""
    refunded: bool = False
    amount: str = ""
    message: str = ""


def card_charge_refunded(*, nonce: str, reference: str) -> ChargeRefunded:
    """Charge CONSENT_CARD_CHARGE_AMOUNT to the card behind the Drop-in nonce (the card's holder sees the
    transaction) and refund it at once; nothing about the card is stored. A refund Braintree refuses is logged
    for staff (the charge stands verified). ValidationError when Braintree cannot be reached."""
    amount = Decimal(settings.CONSENT_CARD_CHARGE_AMOUNT)
    try:
        sale = braintree.sale(amount=amount, order_id=reference, nonce=nonce, payer=None)  # the parent's card
    except GatewayError as exc:
        raise ValidationError(
            _("The card check is unavailable right now. Nothing was recorded; please try again later."),
            code="gateway",
        ) from exc
    if not sale.success:
        return ChargeRefunded(success=False, message=sale.message)
    try:
        refund = braintree.refund(transaction_id=sale.transaction_id, payer=None)
    except GatewayError as exc:
        logger.error("consent charge %s: refund failed (%s); refund it in Braintree", sale.transaction_id, exc)
        refund = None
    if refund is None or not refund.success:
        logger.error("consent charge %s: Braintree refused the refund; refund it in Braintree", sale.transaction_id)
    return ChargeRefunded(
        success=True,
        charge_id=sale.transaction_id,
        refund_id=refund.transaction_id if refund is not None and refund.success else "",
        refunded=bool(refund is not None and refund.success),
        amount=str(amount),
    )
