"""Billing's tasks through the session's real Celery worker (Redis broker), enqueued on commit."""

from __future__ import annotations

import datetime
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import task_postrun
from django.utils import timezone

from billing import services
from billing.models import Invoice
from billing.tasks import invoices_purge_task
from tests.accounts.factories import UserFactory
from tests.billing.factories import BILLING, PlanFactory
from tests.billing.helpers import paid_invoice
from tests.support.smtp import body_text

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


class FinishedTasks:
    def __init__(self) -> None:
        self.events: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self.results: dict[str, Any] = {}

    def __call__(self, sender: Any = None, retval: Any = None, **kwargs: Any) -> None:
        self.results[sender.name] = retval
        self.events[sender.name].set()


@pytest.fixture
def finished() -> Iterator[FinishedTasks]:
    tasks = FinishedTasks()
    task_postrun.connect(tasks, weak=False)
    yield tasks
    task_postrun.disconnect(tasks)


def test_the_worker_emails_the_invoice_after_the_payment_commits(
    real_celery_worker: Any, smtp_sink: Any, fake_braintree: Any
) -> None:
    buyer = UserFactory()
    order = services.order_create(user=buyer, plan=PlanFactory(), **{**BILLING, "country": "US"})

    outcome = services.order_pay_braintree(user=buyer, order_reference=str(order.reference), nonce="fake-valid-nonce")

    assert outcome.invoice is not None
    message = smtp_sink.wait_for(to=buyer.email, subject_contains=outcome.invoice.number)
    assert outcome.invoice.number in body_text(message)
    assert [p.get_filename() for p in message.iter_attachments()] == [f"{outcome.invoice.number}.pdf"]


def test_the_worker_runs_the_purge(real_celery_worker: Any, finished: FinishedTasks, settings: Any) -> None:
    buyer = UserFactory()
    expired, kept = paid_invoice(buyer), paid_invoice(buyer)
    year = timezone.localdate().year - settings.INVOICE_RETENTION_YEARS - 1
    Invoice.objects.filter(pk=expired.pk).update(
        year=year, issued_at=datetime.datetime(year, 3, 1, tzinfo=datetime.UTC)
    )

    invoices_purge_task.delay()

    assert finished.events["billing.tasks.invoices_purge_task"].wait(20)
    assert finished.results["billing.tasks.invoices_purge_task"] == 1
    assert list(Invoice.objects.values_list("pk", flat=True)) == [kept.pk]
