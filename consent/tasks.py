"""Celery tasks of consent: each takes ids (and, for the parent's link, the key), calls one service or
sends one email, and is idempotent."""

from __future__ import annotations

import smtplib

from celery import shared_task

from . import emails, services
from .models import ConsentRecord, PendingSignup

# A mail server that is briefly down: retry with backoff (about 30 s, 1, 2, 4 and 8 minutes, ~15 minutes in all).
MAIL_ERRORS = (OSError, smtplib.SMTPException)


@shared_task(autoretry_for=MAIL_ERRORS, retry_backoff=30, retry_backoff_max=480, retry_jitter=False, max_retries=5)
def consent_request_send_task(pending_id: int, key: str) -> bool:
    """Email the parent the link. The key exists only in this message and in the email it sends."""
    pending = PendingSignup.objects.filter(pk=pending_id).first()
    if pending is None:  # answered or expired meanwhile
        return False
    emails.send_consent_request(pending=pending, key=key)
    return True


@shared_task(autoretry_for=MAIL_ERRORS, retry_backoff=30, retry_backoff_max=480, retry_jitter=False, max_retries=5)
def consent_reminder_send_task(pending_id: int) -> bool:
    pending = PendingSignup.objects.filter(pk=pending_id).first()
    if pending is None:
        return False
    emails.send_consent_reminder(pending=pending)
    return True


@shared_task(autoretry_for=MAIL_ERRORS, retry_backoff=30, retry_backoff_max=480, retry_jitter=False, max_retries=5)
def consent_confirmation_send_task(record_id: int) -> bool:
    record = ConsentRecord.objects.select_related("child").filter(pk=record_id).first()
    if record is None:
        return False
    emails.send_consent_confirmation(record=record)
    return True


@shared_task
def consent_follow_up_send_task(record_id: int) -> bool:
    """The email-plus follow-up, sent once, some time after the approval: how to withdraw."""
    record = ConsentRecord.objects.select_related("child").filter(pk=record_id).first()
    if record is None or not services.consent_follow_up_mark_sent(record_id=record_id):
        return False
    emails.send_consent_follow_up(record=record)
    return True


@shared_task
def pending_signups_expire_task() -> int:
    return services.pending_signups_expire()


@shared_task
def pending_signups_remind_task() -> int:
    return services.pending_signups_remind()
