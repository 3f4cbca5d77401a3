from __future__ import annotations

import pytest

from accounts.models import User
from billing import demo, selectors
from billing.models import Invoice, Plan

pytestmark = pytest.mark.django_db


def test_demo_is_idempotent_and_gives_a_buyer_with_several_paid_invoices_and_a_clerk() -> None:
    demo.load()
    logins = demo.load()

    buyer = User.objects.get(username="buyer")
    clerk = User.objects.get(username="clerk")
    assert Plan.objects.count() == 3
    assert Invoice.objects.filter(user=buyer).count() == len(demo.DEMO_PURCHASES) == 4  # worth a zip
    assert selectors.purchase_allowed(buyer)
    assert clerk.has_perm("billing.refund_invoice")
    assert clerk.has_perm("billing.view_order")
    assert {login.login for login in logins} == {"buyer@example.com", "clerk"}
