from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal

from django.db import transaction

from accounts.models import User
from billing import services
from billing.gateways import SaleResult
from billing.models import Gateway, Invoice, Order
from tests.billing.factories import BILLING, PlanFactory
from tests.support.roles import make_child, make_school_student

__all__ = ["make_child", "make_school_student", "paid_invoice"]


def paid_invoice(user: User, *, price: str = "50.00", transaction_id: str = "") -> Invoice:
    """An order paid as the Braintree gateway would report it (no network), and its invoice."""
    order = services.order_create(user=user, plan=PlanFactory(price=Decimal(price)), **BILLING)
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        return services._order_record_payment(
            order=locked,
            gateway=Gateway.BRAINTREE,
            result=SaleResult(
                success=True,
                transaction_id=transaction_id or f"tx-{order.pk}",
                card_brand="Visa",
                card_last4="1111",
                card_exp_month=12,
                card_exp_year=2030,
            ),
        )


SECRET = "ipn-secret-key"  # the 2Checkout secret key the IPN tests configure


def signed_ipn(
    order: Order, *, status: str = "COMPLETE", total: str | None = None, algorithm: str = "sha256", refno: str = "4711"
) -> list[tuple[str, str]]:
    fields = [
        ("SALEDATE", "2026-11-24 10:00:00"),
        ("REFNO", refno),
        ("REFNOEXT", str(order.reference)),
        ("ORDERNO", "258"),
        ("ORDERSTATUS", status),
        ("PAYMETHOD", "Visa/MasterCard"),
        ("FIRSTNAME", "Zoë"),
        ("LASTNAME", "Dupré"),
        ("IPN_PID[]", "1"),
        ("IPN_PNAME[]", order.plan.name),
        ("IPN_TOTALGENERAL", total or str(order.total)),
        ("CURRENCY", order.currency),
        ("IPN_DATE", "20261124100000"),
    ]
    base = "".join(f"{len(v.encode())}{v}" for _, v in fields)
    digest = hmac.new(SECRET.encode(), base.encode(), getattr(hashlib, algorithm)).hexdigest()
    fields.append(("HASH" if algorithm == "md5" else "SIGNATURE_SHA2_256", digest))
    return fields
