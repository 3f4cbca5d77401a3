"""Rendering and sending the product's emails.

Every email is built here (plain text and HTML from one pair of templates, with the subject prefix) and
handed to the outbox (``mindomo.outbox.services.delivery_enqueue``), which sends it through one retrying
task. The only email sent from here without the outbox is the parent's consent request, whose link
carries a key that must never be stored (``consent.tasks.consent_request_send_task``); it uses the same
sending, error classification and retry schedule.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string


def templated_message(
    *, to: str, subject: str, template: str, context: dict[str, Any], html: bool = True
) -> EmailMultiAlternatives:
    """``<template>.txt`` (and ``<template>.html``) rendered with ``context``, addressed to ``to``."""
    text = render_to_string(f"{template}.txt", context)
    message = EmailMultiAlternatives(subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=text, to=[to])
    if html:
        message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return message


def send_now(message: EmailMessage) -> None:
    """Hand ``message`` to the mail server now; raises on any failure (see :func:`classify`)."""
    message.connection = get_connection(timeout=settings.MAIL_SEND_TIMEOUT_SECONDS)
    message.send(fail_silently=False)


@dataclass(frozen=True)
class SendFailure:
    permanent: bool  # True: the server refused for good (5xx, bad address); retrying cannot help
    answer: str  # the server's answer (or the error), for staff


def classify(exc: BaseException) -> SendFailure:
    """Temporary (server down, timeout, 4xx) or permanent (5xx, refused recipient, invalid address)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in exc.recipients.values()]
        answer = "; ".join(
            f"{address}: {code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for address, (code, message) in exc.recipients.items()
        )
        return SendFailure(permanent=bool(codes) and all(500 <= code < 600 for code in codes), answer=answer)
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return SendFailure(permanent=500 <= exc.smtp_code < 600, answer=f"{exc.smtp_code} {error}")
    if isinstance(exc, (ValueError, UnicodeError)):  # Django refuses a malformed address before connecting
        return SendFailure(permanent=True, answer=f"{type(exc).__name__}: {exc}")
    return SendFailure(permanent=False, answer=f"{type(exc).__name__}: {exc}")


def retry_delay(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: exponential from MAIL_RETRY_BASE_SECONDS,
    capped at MAIL_RETRY_MAX_SECONDS (short enough that a delayed task message never outlives the broker's
    visibility timeout)."""
    base, cap = settings.MAIL_RETRY_BASE_SECONDS, settings.MAIL_RETRY_MAX_SECONDS
    return int(min(cap, base * 2 ** max(0, attempts - 1)))


def retry_attempts_for_window() -> int:
    """How many retries the schedule of :func:`retry_delay` needs to cover MAIL_RETRY_HOURS."""
    window, total, attempts = settings.MAIL_RETRY_HOURS * 3600, 0, 0
    while total < window:
        attempts += 1
        total += retry_delay(attempts)
    return attempts
