"""Reads with rules: who may buy, and the orders and invoices a viewer may see."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from consent.selectors import user_may_purchase

from .models import Invoice, Order, Plan

if TYPE_CHECKING:
    from accounts.models import User


def purchase_allowed(user: User | Any) -> bool:
    """Only signed-in adults with a verified email may buy; children and school-consented accounts may not.

    The age and consent decision belongs to the consent app (``consent.selectors.user_may_purchase``); a
    verified email is needed as well, because the invoice is sent there.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if not user_may_purchase(user):
        return False
    return EmailAddress.objects.filter(user=user, verified=True).exists()


def plan_list_on_sale() -> QuerySet[Plan]:
    return Plan.objects.filter(is_active=True).order_by("price", "pk")


def order_list_visible_to(*, viewer: User | Any) -> QuerySet[Order]:
    if not getattr(viewer, "is_authenticated", False):
        return Order.objects.none()
    return Order.objects.filter(user=viewer).select_related("plan")


def invoice_list_visible_to(*, viewer: User | Any) -> QuerySet[Invoice]:
    """A buyer's own invoices and credit notes (staff see them in the admin, not here)."""
    if not getattr(viewer, "is_authenticated", False):
        return Invoice.objects.none()
    return Invoice.objects.filter(user=viewer).order_by("-issued_at", "-pk")


def retention_cutoff_year(today: datetime.date | None = None) -> int:
    """Invoices of tax years before this one are past their retention (INVOICE_RETENTION_YEARS after the end of
    their tax year): the purge deletes them, and nothing reads them meanwhile."""
    return (today or timezone.localdate()).year - settings.INVOICE_RETENTION_YEARS


def invoice_list_retained(invoices: QuerySet[Invoice], *, today: datetime.date | None = None) -> QuerySet[Invoice]:
    """``invoices`` without those past their retention (not yet purged: the purge runs monthly)."""
    return invoices.filter(year__gte=retention_cutoff_year(today))


def invoice_years(*, viewer: User | Any) -> list[int]:
    """The tax years of the viewer's invoices within retention, newest first (the zip's choice of year)."""
    invoices = invoice_list_retained(invoice_list_visible_to(viewer=viewer))
    return list(invoices.order_by("-year").values_list("year", flat=True).distinct())


def last_billing_details(*, user: User) -> dict[str, str]:
    """Prefill the form with the details of the buyer's last order (or their account)."""
    last = Order.objects.filter(user=user).order_by("-created_at", "-pk").first()
    if last is None:
        return {"full_name": user.get_full_name(), "country": str(user.country) if user.country else ""}
    return {
        "full_name": last.full_name,
        "country": str(last.country),
        "vat_id": last.vat_id,
        "address": last.address,
        "city": last.city,
        "postal_code": last.postal_code,
        "state": last.state,
        "phone": last.phone,
    }
