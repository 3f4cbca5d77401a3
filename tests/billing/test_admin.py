"""The billing clerk: sees orders and invoices in the admin, refunds with an action that issues a credit note."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from billing import services
from billing.models import BillingEvent, Invoice, Order
from tests.billing.factories import BILLING, PlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def braintree_invoice(member: Any, fake_braintree: Any) -> Invoice:
    order = services.order_create(user=member, plan=PlanFactory(), **BILLING)
    outcome = services.order_pay_braintree(user=member, order_reference=str(order.reference), nonce="fake-valid-nonce")
    assert outcome.invoice is not None
    return outcome.invoice


@pytest.mark.parametrize(
    ("role", "status"), [("billing_clerk", 200), ("superuser", 200), ("staff_without_role", 403), ("adult", 302)]
)
@pytest.mark.parametrize("model", ["order", "invoice"])
def test_only_the_billing_role_sees_orders_and_invoices(
    braintree_invoice: Invoice, role: str, status: int, model: str, client_as: Any
) -> None:
    response = client_as(role)[0].get(reverse(f"admin:billing_{model}_changelist"))

    assert response.status_code == status
    if status == 200:
        assert braintree_invoice.number in response.content.decode() or model == "order"


def test_clerk_cannot_edit_or_delete_an_invoice(braintree_invoice: Invoice, client_as: Any) -> None:
    client = client_as("billing_clerk")[0]

    change = client.post(reverse("admin:billing_invoice_change", args=[braintree_invoice.pk]), {"total": "0"})
    delete = client.post(reverse("admin:billing_invoice_delete", args=[braintree_invoice.pk]), {"post": "yes"})

    braintree_invoice.refresh_from_db()
    assert (change.status_code, delete.status_code) == (403, 403)
    assert braintree_invoice.total > 0


def refund(client: Client, invoice: Invoice) -> Any:
    return client.post(
        reverse("admin:billing_invoice_changelist"),
        {"action": "refund", "_selected_action": [invoice.pk]},
        follow=True,
    )


def test_clerk_refund_refunds_through_braintree_and_issues_a_credit_note_once(
    braintree_invoice: Invoice,
    fake_braintree: Any,
    mailoutbox: Any,
    django_capture_on_commit_callbacks: Any,
    client_as: Any,
) -> None:
    client = client_as("billing_clerk")[0]

    with django_capture_on_commit_callbacks(execute=True):
        first = refund(client, braintree_invoice)
    second = refund(client, braintree_invoice)

    credit = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert f"credit note {credit.number} issued" in first.content.decode()
    assert "already been refunded" in second.content.decode()
    assert credit.credited_invoice == braintree_invoice
    assert credit.total == -braintree_invoice.total
    assert [s.kind for s in fake_braintree.state.sales] == ["sale", "credit"]
    assert Order.objects.get().status == Order.Status.REFUNDED
    assert BillingEvent.objects.filter(kind=BillingEvent.Kind.REFUNDED).count() == 1
    assert mailoutbox[-1].subject == f"[Mindomo] Your credit note {credit.number}"


def test_staff_without_the_role_has_no_refund_action(
    braintree_invoice: Invoice, fake_braintree: Any, client_as: Any
) -> None:
    response = refund(client_as("staff_without_role")[0], braintree_invoice)

    assert response.status_code == 403
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()
    assert [s.kind for s in fake_braintree.state.sales] == ["sale"]


def test_refund_when_braintree_is_down_shows_the_error_and_issues_nothing(
    braintree_invoice: Invoice, fake_braintree: Any, client_as: Any
) -> None:
    fake_braintree.state.fail_with_status = 503

    response = refund(client_as("billing_clerk")[0], braintree_invoice)

    assert "could not refund this invoice" in response.content.decode()
    assert not Invoice.objects.filter(kind=Invoice.Kind.CREDIT_NOTE).exists()
    assert Order.objects.get().status == Order.Status.PAID
