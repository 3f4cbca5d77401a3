"""Celery tasks of consent: each takes ids (and, for the parent's link, the key), calls one service or
sends one email, and is idempotent."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from mindomo import mail

from . import emails, services
from .models import ConsentRecord, Guardian, PendingSignup
from .portal.reads import school_recipients

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


@shared_task
def pending_signups_expire_task() -> int:
    return services.pending_signups_expire()


@shared_task
def pending_signups_remind_task() -> int:
    return services.pending_signups_remind()


# --- the parent portal and age-up -------------------------------------------------------------------------
@shared_task
def portal_link_send_task(email: str, token: str) -> bool:
    """Email a parent their single-use sign-in link (the token exists only here and in the email)."""
    emails.send_portal_link(email=email, token=token)
    return True


@shared_task
def portal_erased_send_task(email: str, withdrawn: bool) -> bool:
    emails.send_portal_erased(email=email, withdrawn=withdrawn)
    return True


@shared_task
def portal_guardian_invited_send_task(guardian_id: int) -> bool:
    guardian = Guardian.objects.select_related("record__child").filter(pk=guardian_id).first()
    if guardian is None:
        return False
    emails.send_guardian_invited(guardian=guardian)
    return True


@shared_task
def school_request_send_task(
    child_id: int, school_id: int | None, parent_email: str, request_kind: str, message: str
) -> bool:
    found = ConsentRecord.objects.select_related("child", "school").filter(child_id=child_id).first()
    if found is None or found.school_id != school_id:
        return False
    emails.send_school_request(
        record=found,
        recipients=school_recipients(found),
        parent_email=parent_email,
        request_kind=request_kind,
        message=message,
    )
    return True


@shared_task
def children_age_up_find_task() -> int:
    # Imported here: the portal's actions enqueue this module's tasks, so this module cannot import them first.
    from .portal.actions import children_age_up_find

    return children_age_up_find()


@shared_task
def age_up_parent_send_task(email: str, child_id: int) -> bool:
    from accounts.models import User

    child = User.objects.filter(pk=child_id).first()
    if child is None:
        return False
    emails.send_age_up_parent(email=email, login=child.username, child=child)
    return True
