"""Concurrency with real parallel transactions: threads, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from billing import services
from billing.models import Invoice, InvoiceCounter, Order, ProcessedNotification
from tests.accounts.factories import UserFactory
from tests.billing.factories import BILLING, PlanFactory
from tests.billing.helpers import SECRET, signed_ipn

pytestmark = pytest.mark.django_db(transaction=True)
US_BILLING = {**BILLING, "country": "US"}


def run_in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at the same moment, each in its own thread (and database connection)."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def worker(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_parallel_payments_get_unique_gapless_invoice_numbers(fake_braintree: Any) -> None:
    plan = PlanFactory()
    buyers = [UserFactory() for _ in range(8)]
    orders = [services.order_create(user=u, plan=plan, **US_BILLING) for u in buyers]

    def pay(user: Any, order: Order) -> Callable[[], Any]:
        return lambda: services.order_pay_braintree(
            user=user, order_reference=str(order.reference), nonce="fake-valid-nonce"
        )

    outcomes = run_in_parallel([pay(u, o) for u, o in zip(buyers, orders, strict=True)])

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
    assert sequences == list(range(1, 9))
    assert Invoice.objects.values("number").distinct().count() == 8
    assert InvoiceCounter.objects.get(series="INV").last_number == 8


def test_two_parallel_submits_of_one_order_charge_once(fake_braintree: Any) -> None:
    buyer = UserFactory()
    order = services.order_create(user=buyer, plan=PlanFactory(), **US_BILLING)

    outcomes = run_in_parallel(
        [
            lambda: services.order_pay_braintree(
                user=buyer, order_reference=str(order.reference), nonce="fake-valid-nonce"
            )
            for _ in range(2)
        ]
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len(fake_braintree.state.charged(str(order.reference))) == 1
    assert Invoice.objects.filter(order=order).count() == 1
    assert {o.invoice.number for o in outcomes} == {Invoice.objects.get(order=order).number}
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_the_same_ipn_delivered_twice_in_parallel_pays_once(settings: Any) -> None:
    settings.TWOCHECKOUT_SECRET_KEY = SECRET
    buyer = UserFactory()
    order = services.order_create(user=buyer, plan=PlanFactory(), **US_BILLING)
    fields = signed_ipn(order)
    ipn = [(name, [value]) for name, value in fields]

    outcomes = run_in_parallel([lambda: services.twocheckout_ipn_process(fields=ipn) for _ in range(2)])

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert all(o.startswith('<sig algo="sha256"') for o in outcomes)  # both acknowledged
    assert Invoice.objects.filter(order=order).count() == 1
    assert ProcessedNotification.objects.count() == 1
