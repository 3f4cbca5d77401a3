"""Demo billing data: plans on sale and a buyer with several paid invoices (idempotent)."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_noop

from accounts.demo import ensure_user
from mindomo.demo import DEMO_PASSWORD, DemoLogin

from . import services
from .constants import BILLING_CLERK_GROUP
from .gateways import SaleResult
from .models import Gateway, Invoice, Order, Plan

PLANS = [
    ("Premium monthly", gettext_noop("All features for one person, billed monthly."), Decimal("6.00"), 30),
    ("Premium yearly", gettext_noop("All features for one person, billed yearly."), Decimal("60.00"), 365),
    ("Team yearly", gettext_noop("Shared maps for up to 10 people."), Decimal("240.00"), 365),
]


# the buyer's purchases, in order: one invoice each
DEMO_PURCHASES = ["Premium yearly", "Premium monthly", "Premium monthly", "Team yearly"]


@transaction.atomic
def load() -> list[DemoLogin]:
    for name, description, price, days in PLANS:
        Plan.objects.get_or_create(
            name=name, defaults={"description": description, "price": price, "currency": "EUR", "duration_days": days}
        )
    buyer = ensure_user(username="buyer", email="buyer@example.com", first_name="Zoë", last_name="Dupré", country="FR")
    # several paid orders, so "Download as zip" on /billing/invoices/ is worth trying
    done = Invoice.objects.filter(user=buyer).count()
    for plan_name in DEMO_PURCHASES[done:]:
        order = services.order_create(
            user=buyer,
            plan=Plan.objects.get(name=plan_name),
            full_name="Zoë Dupré",
            country="FR",
            vat_id="",
            address="12 rue de l'Église",
            city="Besançon",
            postal_code="25000",
            state="",
            phone="+33 3 81 00 00 00",
        )
        locked = Order.objects.select_for_update().get(pk=order.pk)
        services._order_record_payment(
            order=locked,
            gateway=Gateway.BRAINTREE,
            result=SaleResult(
                success=True,
                transaction_id=f"demo-{order.pk}",
                card_brand="Visa",
                card_last4="1111",
                card_exp_month=12,
                card_exp_year=2030,
            ),
        )
    clerk = ensure_user(
        username="clerk", email="clerk@example.com", first_name="Carl", last_name="Clerk", country="RO", is_staff=True
    )
    group = Group.objects.filter(name=BILLING_CLERK_GROUP).first()
    if group is not None:
        clerk.groups.add(group)
    return [
        DemoLogin(
            "billing clerk (staff)",
            "clerk",
            DEMO_PASSWORD,
            "/admin/ orders, invoices, refund action, the invoices of a period as one zip",
        ),
        DemoLogin(
            "buyer (adult with four paid invoices)",
            "buyer@example.com",
            DEMO_PASSWORD,
            "/billing/ plans, /billing/invoices/ invoices, PDFs, all as one zip",
        ),
    ]
