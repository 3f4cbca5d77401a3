"""Celery survives Redis and the worker: it reconnects for ever, gives a killed worker's task back at once (or,
for a vanished machine, after the visibility timeout), and no task outlives the visibility timeout."""

from __future__ import annotations

from typing import Any

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
    assert visibility == settings.CELERY_VISIBILITY_TIMEOUT and visibility <= 15 * 60  # not Redis's default hour
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit < visibility
    # a delayed message is held unacknowledged by a worker until it is due, then sent (at most the SMTP timeout)
    longest_delay = max(settings.OUTBOX_PUBLISH_HORIZON_SECONDS, settings.MAIL_RETRY_MAX_SECONDS)
    assert longest_delay + settings.MAIL_SEND_TIMEOUT_SECONDS < visibility


def test_publishing_gives_up_within_seconds_when_redis_is_down() -> None:
    policy = app.conf.task_publish_retry_policy
    assert policy["max_retries"] * policy["interval_max"] + app.conf.broker_connection_timeout <= 5
