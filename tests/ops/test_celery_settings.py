"""Celery survives Redis and the worker: it reconnects for ever, gives a killed worker's task back at once (or,
for a vanished machine, after the visibility timeout), and no task outlives the visibility timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from mindomo.celery import app


def test_the_worker_reconnects_for_ever_and_gives_back_the_tasks_of_a_killed_process() -> None:
    conf = app.conf
    assert conf.broker_connection_retry_on_startup is True
    assert conf.broker_connection_retry is True
    assert conf.broker_connection_max_retries is None
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True


def test_the_visibility_timeout_is_minutes_and_longer_than_any_task_or_delay(settings: Any) -> None:
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility == settings.CELERY_VISIBILITY_TIMEOUT
    assert visibility <= 15 * 60
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit < visibility
    # a delayed message is held unacknowledged by a worker until it is due, then sent (at most the SMTP timeout)
    longest_delay = max(settings.OUTBOX_PUBLISH_HORIZON_SECONDS, settings.MAIL_RETRY_MAX_SECONDS)
    assert longest_delay + settings.MAIL_SEND_TIMEOUT_SECONDS < visibility


def test_every_worker_looks_for_a_vanished_workers_messages_every_minute(settings: Any) -> None:
    """kombu's default scans for messages past the visibility timeout every 100 s (10 s, every 10th call);
    ours scans every CELERY_UNACKED_RESTORE_SECONDS, on every call, so the killed worker's task comes back
    within a minute of the visibility timeout (tests/ops/test_faults.py shows it with real workers)."""
    options = app.conf.broker_transport_options
    assert options["unacked_restore_throttle"] == 1
    assert options["unacked_restore_interval"] == settings.CELERY_UNACKED_RESTORE_SECONDS <= 60
    assert options["unacked_mutex_expire"] < options["visibility_timeout"]


@pytest.mark.parametrize(
    ("soft", "hard", "visibility"),
    [("240", "300", "200"), ("300", "300", "900"), ("240", "900", "900")],
)
def test_settings_refuse_a_visibility_timeout_a_live_task_could_outlast(soft: str, hard: str, visibility: str) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mindomo.settings.base",
        "CELERY_TASK_SOFT_TIME_LIMIT": soft,
        "CELERY_TASK_TIME_LIMIT": hard,
        "CELERY_VISIBILITY_TIMEOUT": visibility,
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT" in result.stderr


def test_publishing_gives_up_within_seconds_when_redis_is_down() -> None:
    policy = app.conf.task_publish_retry_policy
    assert policy["max_retries"] * policy["interval_max"] + app.conf.broker_connection_timeout <= 5


@pytest.mark.django_db
def test_a_bulk_job_interrupted_by_the_soft_time_limit_is_queued_again_and_completes(monkeypatch: Any) -> None:
    """The soft time limit (the worker raises SoftTimeLimitExceeded in the task) stops the expiry between
    batches; the task queues itself again and the next run finishes from the committed batches."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.conf import settings
    from django.utils import timezone

    from consent import age_gate, services
    from consent.models import PendingSignup
    from consent.reference_data import ensure_loaded
    from consent.tasks import pending_signups_expire_task
    from tests.consent.helpers import birth_date_for_age

    ensure_loaded()
    decision = age_gate.decide(birth_date=birth_date_for_age(10), country="US", today=timezone.now().date())
    long_ago = timezone.now() - timedelta(seconds=settings.CONSENT_REQUEST_TTL + 60)
    for n in range(5):
        services.pending_signup_create(
            login=f"slice{n}",
            password="purple-giraffe-runs-42",
            parent_email=f"s{n}@example.org",
            decision=decision,
            now=long_ago,
        )
    real_logged = services.pending_signups_expired_logged
    calls: list[int] = []

    def delete_then_run_out_of_time(batch: Any) -> None:
        calls.append(batch.count)
        if len(calls) == 2:  # the second batch: the worker's soft limit fires (its DELETE rolls back)
            raise SoftTimeLimitExceeded()
        real_logged(batch)

    monkeypatch.setattr(services, "pending_signups_expired_logged", delete_then_run_out_of_time)
    monkeypatch.setattr(services, "BATCH_SIZE", 2)
    monkeypatch.setattr(services.pending_signups_expire, "__kwdefaults__", {"now": None, "batch_size": 2})

    pending_signups_expire_task.delay()

    assert not PendingSignup.objects.exists()
    assert len(calls) >= 4  # the interrupted batch was done again by the continued task


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("mindomo.outbox.tasks.delivery_send_task", "mail"),
        ("mindomo.outbox.tasks.deliveries_resume_task", "mail"),
        ("consent.tasks.consent_request_send_task", "mail"),
        ("consent.tasks.pending_signups_expire_task", "bulk"),
        ("privacy.tasks.retention_apply_task", "bulk"),
        ("accounts.tasks.data_export_build_task", "bulk"),
        ("accounts.tasks.account_erasure_run_task", "bulk"),
        ("billing.tasks.invoices_purge_task", "bulk"),
    ],
)
def test_emails_and_bulk_jobs_go_to_their_own_queues(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_the_sessions_one_worker_consumes_both_queues(celery_worker_session: Any) -> None:
    consumed = {q.name for q in celery_worker_session.consumer.task_consumer.queues}
    assert consumed == {"mail", "bulk"}
