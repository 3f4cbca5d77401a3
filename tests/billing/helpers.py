from __future__ import annotations

import datetime
import hashlib
import hmac
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import School, User
from billing import services
from billing.gateways import SaleResult
from billing.models import Gateway, Invoice, Order
from consent.age_gate import decide
from consent.services import age_decision_record, consent_record_school
from tests.accounts.factories import UserFactory
from tests.billing.factories import BILLING, PlanFactory


def make_child(**kwargs: Any) -> User:
    """An account whose age decision says it is a child (the consent app's rule)."""
    user = UserFactory(**kwargs)
    today = timezone.localdate()
    decision = decide(birth_date=datetime.date(today.year - 9, 1, 15), country="US", today=today)
    age_decision_record(user=user, decision=decision)
    return user


def make_school_student(**kwargs: Any) -> User:
    """An account that exists through a school's consent."""
    user = UserFactory(**kwargs)
    school = School.objects.create(name="Lycée Émile Zola", country="FR", contact_email="office@school.example")
    consent_record_school(child=user, school=school, granted_by=UserFactory(is_superuser=True, is_staff=True))
    return user


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
