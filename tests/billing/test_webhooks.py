"""Braintree webhooks: verified by the SDK, applied exactly once, nothing stored from the payload."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest

from billing import services
from billing.gateways import braintree_gateway
from billing.models import BillingEvent, Order, ProcessedNotification
from tests.billing.factories import BILLING, PlanFactory
from tests.support.dbscan import tables_containing

pytestmark = pytest.mark.django_db
URL = "/billing/braintree/webhook/"


@pytest.fixture
def paid_order(member: Any, fake_braintree: Any) -> Order:
    order = services.order_create(user=member, plan=PlanFactory(price=Decimal("50.00")), **BILLING)
    services.order_pay_braintree(user=member, order_reference=str(order.reference), nonce="fake-valid-nonce")
    order.refresh_from_db()
    return order


def test_dispute_opened_is_recorded_once_and_a_replay_changes_nothing(client: Any, paid_order: Order) -> None:
    notification = braintree_gateway.sample_webhook(kind="dispute_opened", subject_id=paid_order.gateway_transaction_id)

    first = client.post(URL, notification)
    replay = client.post(URL, notification)

    paid_order.refresh_from_db()
    assert (first.status_code, replay.status_code) == (200, 200)
    assert paid_order.dispute_status == "open"
    assert BillingEvent.objects.filter(order=paid_order, kind=BillingEvent.Kind.DISPUTE).count() == 1
    assert ProcessedNotification.objects.filter(gateway="braintree").count() == 1


def test_dispute_won_after_opened_updates_the_status(client: Any, paid_order: Order) -> None:
    for kind in ("dispute_opened", "dispute_won"):
        client.post(URL, braintree_gateway.sample_webhook(kind=kind, subject_id=paid_order.gateway_transaction_id))

    paid_order.refresh_from_db()
    assert paid_order.dispute_status == "won"


def test_tampered_webhook_is_refused_and_changes_nothing(client: Any, paid_order: Order) -> None:
    notification = braintree_gateway.sample_webhook(kind="dispute_opened", subject_id=paid_order.gateway_transaction_id)
    xml = base64.b64decode(notification["bt_payload"]).replace(b"<status>open</status>", b"<status>won</status>")
    tampered = {**notification, "bt_payload": base64.encodebytes(xml).decode()}

    response = client.post(URL, tampered)

    paid_order.refresh_from_db()
    assert response.status_code == 400
    assert paid_order.dispute_status == ""
    assert not ProcessedNotification.objects.exists()


def test_webhook_without_signature_is_refused(client: Any, fake_braintree: Any) -> None:
    response = client.post(URL, {"bt_payload": "x"})

    assert response.status_code == 400
    assert not ProcessedNotification.objects.exists()


def test_refund_failed_sample_carries_a_card_number_that_we_never_store(client: Any, paid_order: Order) -> None:
    notification = braintree_gateway.sample_webhook(kind="refund_failed", subject_id=paid_order.gateway_transaction_id)

    response = client.post(URL, notification)

    assert response.status_code == 200
    assert ProcessedNotification.objects.filter(kind="refund_failed").count() == 1
    assert tables_containing("1234560000001234") == {}
