"""Celery tasks of consent: each takes ids (and, for the parent's link, the key), calls one service or
sends one email, and is idempotent."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from mindomo import mail
from mindomo.jobs import run_in_slices

from . import emails, ledger, services
from .models import PendingSignup
from .portal.actions import children_age_up_find

logger = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=None)
def consent_request_send_task(self: Any, pending_id: int, key: str) -> bool:
    """Email the parent the link. The key exists only in this message and in the email it sends: this is the
    one email that does not go through the outbox (it would store the key). It follows the outbox's retry
    schedule (mindomo.mail: exponential backoff, capped, for MAIL_RETRY_HOURS) while the mail server is down
    or answers 4xx; a permanent refusal (5xx, bad address) ends it; the request then expires unanswered.

    Published just before the sign-up commits (consent.services._enqueue_request_email): on its first run a row
    not visible yet is looked for again a moment later."""
    pending = PendingSignup.objects.filter(pk=pending_id).first()
    if pending is None:
        if self.request.retries == 0 and not self.request.is_eager:
            raise self.retry(countdown=2)
        return False  # answered, expired, or its sign-up rolled back
    try:
        emails.send_consent_request(pending=pending, key=key)
    except Exception as exc:
        failure = mail.classify(exc)
        retries = self.request.retries or 0
        # An eager run (tests, or no broker configured) cannot wait: it gives up like a permanent failure.
        if failure.permanent or retries >= mail.retry_attempts_for_window() or self.request.is_eager:
            # Never logged with the key; the parent's address stays in the database only.
            logger.warning("consent request %s not delivered: %s", pending_id, failure.answer)
            return False
        raise self.retry(countdown=mail.retry_delay(retries + 1)) from exc
    return True


@shared_task(bind=True)
def pending_signups_expire_task(self: Any) -> int:
    return run_in_slices(self, lambda: services.pending_signups_expire(), interrupted=0)


@shared_task(bind=True)
def pending_signups_remind_task(self: Any) -> int:
    return run_in_slices(self, lambda: services.pending_signups_remind(), interrupted=0)


@shared_task
def ledger_checkpoint_task() -> int:
    """Sign a checkpoint of every ledger chain's head (beat, hourly)."""
    return ledger.checkpoint_create().pk


# --- the parent portal and age-up -------------------------------------------------------------------------
@shared_task
def children_age_up_find_task() -> int:
    return children_age_up_find()


@shared_task
def children_inactivity_announce_task() -> int:
    """Daily (beat): tell the parents or schools of children's accounts unused for CHILD_INACTIVITY_DAYS; the
    retention engine erases them CHILD_INACTIVITY_NOTICE_DAYS later unless someone signs in."""
    from .services import children_inactivity_announce

    return children_inactivity_announce()
