"""The one email outside the outbox: the parent's consent request, whose link carries the key. It lives only
in the task message and follows the outbox's retry schedule while the mail server is down."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import task_postrun
from django.db import transaction
from django.utils import timezone

from consent import services as consent_services
from consent.age_gate import decide
from consent.reference_data import ensure_loaded
from mindomo import mail
from mindomo.outbox.models import Delivery
from tests.outbox.test_outbox import FinishedTasks
from tests.support.dbscan import tables_containing
from tests.support.smtp import SmtpSink, body_text

TASK = "consent.tasks.consent_request_send_task"


@pytest.fixture
def finished_tasks() -> Iterator[FinishedTasks]:
    finished = FinishedTasks()
    task_postrun.connect(finished, weak=False)
    yield finished
    task_postrun.disconnect(finished)


def test_the_request_retries_on_the_outbox_schedule_for_at_least_24_hours(settings: Any) -> None:
    assert settings.MAIL_RETRY_HOURS >= 24
    waits = [mail.retry_delay(n) for n in range(1, mail.retry_attempts_for_window() + 1)]
    assert sum(waits) >= 24 * 3600
    assert max(waits) <= settings.MAIL_RETRY_MAX_SECONDS < settings.CELERY_VISIBILITY_TIMEOUT


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_with_the_mail_server_down_the_request_arrives_once_when_it_returns_and_the_key_is_never_stored(
    real_celery_worker: Any, smtp_sink: SmtpSink, finished_tasks: FinishedTasks, settings: Any
) -> None:
    settings.MAIL_RETRY_BASE_SECONDS = 1
    settings.MAIL_RETRY_MAX_SECONDS = 2
    settings.MAIL_SEND_TIMEOUT_SECONDS = 2  # a server that accepts no connection times out as quickly
    ensure_loaded()
    today = timezone.localdate()
    decision = decide(birth_date=datetime.date(today.year - 9, 1, 15), country="US", today=today)
    smtp_sink.down()
    try:
        with transaction.atomic():
            sealed = consent_services.pending_signup_create(
                login="kid.during.outage",
                password="purple-giraffe-runs-42",
                parent_email="parent.during.outage@example.org",
                decision=decision,
            )
        assert finished_tasks.wait(TASK, 2)  # refused twice: retried, not lost
    finally:
        smtp_sink.up()
    message = smtp_sink.wait_for(to="parent.during.outage@example.org", subject_contains="permission")
    assert sealed.key in body_text(message)
    assert len(smtp_sink.received(to="parent.during.outage@example.org")) == 1
    assert not Delivery.objects.exists()  # never in the outbox
    assert tables_containing(sealed.key) == {}
