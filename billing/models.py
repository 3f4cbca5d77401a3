"""Billing: plans, orders, payments, invoices (and credit notes), processed notifications, audit rows.

No card number, CVC or full expiry is ever stored: the Braintree nonce or the 2Checkout hosted page
carries them; an order keeps only what the gateway returns (brand, last 4 digits, expiry month/year).
Invoices are immutable snapshots that outlive the account (tax law) until their retention ends.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class Currency(models.TextChoices):
    EUR = "EUR", "EUR"
    USD = "USD", "USD"
    GBP = "GBP", "GBP"


class Gateway(models.TextChoices):
    BRAINTREE = "braintree", "Braintree"
    TWOCHECKOUT = "2checkout", "2Checkout"


class Plan(models.Model):
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    price = models.DecimalField(_("price (excluding VAT)"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices, default=Currency.EUR)
    duration_days = models.PositiveIntegerField(_("duration in days"))
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["price", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(price__gt=0), name="billing_plan_price_positive"),
            models.CheckConstraint(condition=models.Q(duration_days__gt=0), name="billing_plan_duration_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.price} {self.currency})"

    @property
    def description_display(self) -> str:
        """The description in the reader's language when it is a text the catalogues know (the demo plans');
        a description staff wrote in the admin is shown as written."""
        return gettext(self.description) if self.description else ""


class VatRate(models.Model):
    """The standard VAT rate of each EU country (data, editable in the admin)."""

    country = CountryField(_("country"), unique=True)
    rate = models.DecimalField(_("rate (%)"), max_digits=5, decimal_places=2)

    class Meta:
        verbose_name = _("VAT rate")
        verbose_name_plural = _("VAT rates")
        ordering = ["country"]
        constraints = [
            models.CheckConstraint(condition=models.Q(rate__gte=0, rate__lt=100), name="billing_vatrate_rate_range"),
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.rate}%"


class BillingDetails(models.Model):
    """The billing details a buyer enters (abstract: copied onto orders and, as a snapshot, invoices)."""

    full_name = models.CharField(_("full name"), max_length=200)
    country = CountryField(_("country"))
    vat_id = models.CharField(_("VAT ID"), max_length=20, blank=True)
    address = models.CharField(_("address"), max_length=300)
    city = models.CharField(_("city"), max_length=100)
    postal_code = models.CharField(_("ZIP / postal code"), max_length=20)
    state = models.CharField(_("state / province"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32)

    class Meta:
        abstract = True


class Order(BillingDetails):
    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting payment")
        PAID = "paid", _("Paid")
        REFUNDED = "refunded", _("Refunded")

    reference = models.UUIDField(_("reference"), default=uuid.uuid4, unique=True, editable=False)
    # An order goes with its account (CASCADE); the invoice, which the law requires, keeps its own snapshot.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    net_amount = models.DecimalField(_("net amount"), max_digits=10, decimal_places=2)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)
    vat_amount = models.DecimalField(_("VAT"), max_digits=10, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=10, decimal_places=2)
    reverse_charge = models.BooleanField(_("reverse charge"), default=False)
    # Payment: what the gateway gave back, never card data beyond brand, last 4 and expiry month/year.
    gateway = models.CharField(_("gateway"), max_length=16, choices=Gateway.choices, blank=True)
    gateway_transaction_id = models.CharField(_("gateway transaction id"), max_length=64, blank=True)
    card_brand = models.CharField(_("card brand"), max_length=40, blank=True)
    card_last4 = models.CharField(_("card last 4 digits"), max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(_("card expiry month"), null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(_("card expiry year"), null=True, blank=True)
    # A sale whose outcome we do not know (timeout): the next attempt asks the gateway before charging.
    charge_outcome_unknown = models.BooleanField(_("charge outcome unknown"), default=False)
    dispute_status = models.CharField(_("dispute status"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "paid", "refunded"]), name="billing_order_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(total=models.F("net_amount") + models.F("vat_amount")),
                name="billing_order_total_sum",
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending") | (models.Q(paid_at__isnull=False) & ~models.Q(gateway="")),
                name="billing_order_paid_has_gateway",
            ),
            models.CheckConstraint(
                condition=models.Q(card_last4="") | models.Q(card_last4__regex=r"^[0-9]{4}$"),
                name="billing_order_card_last4_only",
            ),
            models.UniqueConstraint(
                fields=["gateway", "gateway_transaction_id"],
                condition=~models.Q(gateway_transaction_id=""),
                name="billing_order_gateway_txn_unique",
            ),
        ]
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return str(self.reference)


class InvoiceCounter(models.Model):
    """The last number issued in a series and year; locked (SELECT ... FOR UPDATE) to issue the next."""

    series = models.CharField(max_length=8)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="billing_counter_series_year")]

    def __str__(self) -> str:
        return f"{self.series}-{self.year}: {self.last_number}"


class Invoice(models.Model):
    """An issued invoice or credit note. Never edited: a refund issues a credit note referring to it.

    It keeps a snapshot of the seller, the buyer's account and billing details and the lines, so it
    survives the buyer's account (detached: ``user`` becomes NULL) until its retention ends.
    """

    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    SERIES = {Kind.INVOICE: "INV", Kind.CREDIT_NOTE: "CN"}

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.INVOICE)
    series = models.CharField(_("series"), max_length=8)
    year = models.PositiveSmallIntegerField(_("tax year"))
    sequence = models.PositiveIntegerField(_("sequence"))
    number = models.CharField(_("number"), max_length=32, unique=True)
    issued_at = models.DateTimeField(_("issued at"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices")
    credited_invoice = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="credit_note"
    )
    credited_invoice_number = models.CharField(_("credits invoice number"), max_length=32, blank=True)
    # snapshots
    seller = models.JSONField(_("seller"))
    buyer_account_name = models.CharField(_("buyer account name"), max_length=300)
    buyer_email = models.EmailField(_("buyer email"), blank=True)
    billing_full_name = models.CharField(_("full name"), max_length=200)
    billing_country = models.CharField(_("country"), max_length=2)
    billing_vat_id = models.CharField(_("VAT ID"), max_length=20, blank=True)
    billing_address = models.CharField(_("address"), max_length=300)
    billing_city = models.CharField(_("city"), max_length=100)
    billing_postal_code = models.CharField(_("ZIP / postal code"), max_length=20)
    billing_state = models.CharField(_("state / province"), max_length=100, blank=True)
    billing_phone = models.CharField(_("phone"), max_length=32)
    lines = models.JSONField(_("lines"))
    currency = models.CharField(_("currency"), max_length=3)
    net_amount = models.DecimalField(_("net amount"), max_digits=10, decimal_places=2)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2)
    vat_amount = models.DecimalField(_("VAT"), max_digits=10, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=10, decimal_places=2)
    reverse_charge = models.BooleanField(_("reverse charge"), default=False)
    gateway = models.CharField(_("gateway"), max_length=16, choices=Gateway.choices)
    gateway_transaction_id = models.CharField(_("gateway transaction id"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issued_at", "-pk"]
        permissions = [("refund_invoice", _("Can refund an invoice (issues a credit note)"))]
        constraints = [
            models.UniqueConstraint(fields=["series", "year", "sequence"], name="billing_invoice_gapless_unique"),
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(kind="invoice"),
                name="billing_invoice_one_per_order",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["invoice", "credit_note"]), name="billing_invoice_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(total=models.F("net_amount") + models.F("vat_amount")),
                name="billing_invoice_total_sum",
            ),
            models.CheckConstraint(
                condition=models.Q(kind="invoice", total__gte=0) | models.Q(kind="credit_note", total__lte=0),
                name="billing_invoice_sign_by_kind",
            ),
        ]
        # (year, id): the purge's filter and its keyset order
        indexes = [
            models.Index(fields=["year", "id"], name="billing_invoice_year_id"),
            models.Index(fields=["user", "-issued_at"]),
        ]

    def __str__(self) -> str:
        return self.number

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValidationError(
                _("An issued invoice is never edited: refund it with a credit note."), code="invoice_immutable"
            )
        super().save(*args, **kwargs)

    @property
    def is_credit_note(self) -> bool:
        return self.kind == self.Kind.CREDIT_NOTE

    @property
    def vat_label(self) -> str:
        rate = f"{self.vat_rate:f}"
        return (rate.rstrip("0").rstrip(".") if "." in rate else rate) + "%"


class ProcessedNotification(models.Model):
    """A gateway notification already handled: the unique key makes processing exactly-once."""

    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    notification_id = models.CharField(max_length=128)
    kind = models.CharField(max_length=64)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "notification_id"], name="billing_notification_once")]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.kind}:{self.notification_id}"


class BillingEvent(models.Model):
    """Audit row written in the same transaction as every billing change. No personal data in it."""

    class Kind(models.TextChoices):
        ORDER_CREATED = "order_created", _("Order created")
        PAYMENT_SUCCEEDED = "payment_succeeded", _("Payment succeeded")
        PAYMENT_DECLINED = "payment_declined", _("Payment declined")
        PAYMENT_ERROR = "payment_error", _("Payment gateway error")
        PAYMENT_UNKNOWN = "payment_unknown", _("Payment outcome unknown (timeout)")
        INVOICE_ISSUED = "invoice_issued", _("Invoice issued")
        REFUNDED = "refunded", _("Refunded (credit note issued)")
        DISPUTE = "dispute", _("Dispute update")
        SETTLEMENT = "settlement", _("Settlement update")
        INVOICES_PURGED = "invoices_purged", _("Invoices purged after retention")
        INVOICES_DOWNLOADED = "invoices_downloaded", _("Invoices of a period downloaded by staff")

    kind = models.CharField(max_length=32, choices=Kind.choices)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    order_reference = models.CharField(max_length=36, blank=True)
    invoice_number = models.CharField(max_length=32, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    kind__in=[
                        "order_created",
                        "payment_succeeded",
                        "payment_declined",
                        "payment_error",
                        "payment_unknown",
                        "invoice_issued",
                        "refunded",
                        "dispute",
                        "settlement",
                        "invoices_purged",
                        "invoices_downloaded",
                    ]
                ),
                name="billing_event_kind_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.order_reference or self.invoice_number}"
