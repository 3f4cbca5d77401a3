"""The one way the product sends email.

``delivery_enqueue`` records a pending delivery in the caller's transaction and publishes
``delivery_send_task`` once it commits; ``delivery_send`` claims the row, sends it and records the
outcome; ``deliveries_resume`` (beat) publishes again what a lost task message left behind.

Exactly once, as far as SMTP allows: a worker claims a delivery by moving it to ``sending`` with a
timestamp in a locked transaction before it talks to the server, so no second worker (a duplicated or
redelivered task message) sends it while the claim is fresh. Only a crash in the instant between the
server's "250 accepted" and the commit of ``sent`` leaves a ``sending`` row whose email went out; after
``OUTBOX_CLAIM_TIMEOUT_SECONDS`` the beat task returns it to ``pending`` and it is sent again (at least
once). A claim that outlives its timeout cannot be taken over while the first worker still talks to the
server: the SMTP timeout (``MAIL_SEND_TIMEOUT_SECONDS``) is much shorter than the claim.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone, translation

from mindomo import mail

from . import hooks
from .models import Delivery, DeliveryAttachment

logger = logging.getLogger(__name__)

# A task message may run a little before the time it was published for (clocks of web and worker).
EARLY_TOLERANCE = timedelta(seconds=5)


def _publish(delivery_id: int, *, at: datetime, now: datetime) -> bool:
    """Publish the send task for ``at`` (now or soon). A broker outage is not the caller's failure: the row
    stays pending and the beat task publishes it again."""
    # the tasks module imports this one at its top (a task calls a service): the other way round is a cycle.
    from .tasks import delivery_send_task

    try:
        _send(delivery_send_task, (delivery_id,), at=at, now=now)
    except Exception:
        logger.warning("outbox: could not publish delivery %s; the beat task will", delivery_id, exc_info=True)
        return False
    return True


def _send(task: Any, args: tuple[Any, ...], *, at: datetime, now: datetime) -> None:
    """Publish ``task`` for ``at``: with a countdown when it is later, none when it is due (a message with an ETA
    costs a third more to publish, and the worker holds it apart until then)."""
    seconds = (at - now).total_seconds()
    if seconds > 0:
        task.apply_async(args, countdown=seconds)
    else:
        task.apply_async(args)


def _within_horizon(at: datetime, now: datetime) -> bool:
    return at - now <= timedelta(seconds=settings.OUTBOX_PUBLISH_HORIZON_SECONDS)


def delivery_enqueue(
    *,
    kind: str,
    message: EmailMessage,
    user: Any = None,
    reference: str = "",
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    forget_when_sent: bool = False,
    language: str | None = None,
) -> Delivery:
    """Record ``message`` (one recipient) as a pending delivery in the current transaction.

    The send task is published once the transaction commits (at ``due_at`` when it is soon; a later
    delivery is published by the beat task when it falls due).
    """
    (delivery,) = deliveries_enqueue(
        kind=kind,
        messages=[(message, language)],
        user=user,
        reference=reference,
        due_at=due_at,
        expires_at=expires_at,
        forget_when_sent=forget_when_sent,
    )
    return delivery


def deliveries_enqueue(
    *,
    kind: str,
    messages: Sequence[tuple[EmailMessage, str | None]],
    user: Any = None,
    reference: str = "",
    due_at: datetime | None = None,
    expires_at: datetime | None = None,
    forget_when_sent: bool = False,
) -> list[Delivery]:
    """:func:`delivery_enqueue` for many messages (each with its language) of one kind: one INSERT of the
    deliveries (and one of their attachments) whatever their number, their tasks published once it commits."""
    if any(len(message.to) != 1 or message.cc or message.bcc for message, _language in messages):
        raise ValueError("a delivery has exactly one recipient")
    now = timezone.now()
    due_at = due_at or now
    publish = _within_horizon(due_at, now)
    deliveries = []
    for message, language in messages:
        html = ""
        if isinstance(message, EmailMultiAlternatives):
            html = next((str(content) for content, mimetype in message.alternatives if mimetype == "text/html"), "")
        deliveries.append(
            Delivery(
                kind=kind,
                user=user if getattr(user, "pk", None) else None,
                to_email=message.to[0],
                from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
                reply_to=list(message.reply_to),
                headers=dict(message.extra_headers),
                subject=str(message.subject),
                text_body=str(message.body),
                html_body=html,
                language=language or translation.get_language() or settings.LANGUAGE_CODE,
                reference=reference,
                forget_when_sent=forget_when_sent,
                due_at=due_at,
                next_attempt_at=due_at,
                expires_at=expires_at,
                queued_for=due_at if publish else None,
            )
        )
    Delivery.objects.bulk_create(deliveries)
    attachments = []
    for delivery, (message, _language) in zip(deliveries, messages, strict=True):
        for attachment in message.attachments:
            filename, content, mimetype = attachment  # MIMEBase attachments are not used by the product
            if isinstance(content, str):
                content = content.encode()
            attachments.append(
                DeliveryAttachment(
                    delivery=delivery,
                    filename=filename,
                    mimetype=mimetype or "application/octet-stream",
                    content=content,
                )
            )
    DeliveryAttachment.objects.bulk_create(attachments)
    if publish and len(deliveries) == 1:
        pk = deliveries[0].pk
        transaction.on_commit(lambda: _publish(pk, at=due_at, now=timezone.now()))
    elif publish and deliveries:
        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: _publish_many(ids, at=due_at, now=timezone.now()))
    return deliveries


def delivery_statement(
    *, kind: str, message: EmailMessage, language: str | None = None, forget_when_sent: bool = False
) -> tuple[str, list[Any], Callable[[list[tuple[Any, ...]]], None]]:
    """:func:`delivery_enqueue` of a message due now (one recipient, no attachments, no user) as one ``INSERT ...
    RETURNING id`` for a caller that sends it with its own statements (one round trip): its text, the same for every
    call (the values are parameters), the parameters, and what to call with the rows it returned, in the caller's
    transaction: the send task is published once that transaction commits, as :func:`delivery_enqueue` does."""
    if len(message.to) != 1 or message.cc or message.bcc or message.attachments:
        raise ValueError("a delivery statement has exactly one recipient and no attachment")
    html = ""
    if isinstance(message, EmailMultiAlternatives):
        html = next((str(content) for content, mimetype in message.alternatives if mimetype == "text/html"), "")
    now = timezone.now()
    table = connection.ops.quote_name(Delivery._meta.db_table)
    sql = (
        f'INSERT INTO {table} ("kind", "status", "user_id", "to_email", "from_email", "reply_to", "headers", '  # noqa: S608
        '"subject", "text_body", "html_body", "language", "reference", "forget_when_sent", "created_at", "due_at", '
        '"expires_at", "next_attempt_at", "queued_for", "claimed_at", "attempts", "sent_at", "failed_at", "error") '
        f"VALUES (%s, '{Delivery.Status.PENDING}', NULL, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s, %s, '', %s, %s, "
        "%s, NULL, %s, %s, NULL, 0, NULL, NULL, '') RETURNING id"
    )
    params = [
        kind,
        message.to[0],
        message.from_email or settings.DEFAULT_FROM_EMAIL,
        json.dumps(list(message.reply_to)),
        json.dumps(dict(message.extra_headers)),
        str(message.subject),
        str(message.body),
        html,
        language or translation.get_language() or settings.LANGUAGE_CODE,
        forget_when_sent,
        now,
        now,
        now,
        now,
    ]

    def publish(rows: list[tuple[Any, ...]]) -> None:
        ((pk,),) = rows
        transaction.on_commit(lambda: _publish(pk, at=now, now=timezone.now()))

    return sql, params, publish


PUBLISH_CHUNK = 50  # deliveries enqueued together that one task message sends (deliveries_send_task)


def _publish_many(ids: Sequence[int], *, at: datetime, now: datetime) -> None:
    """Publish the deliveries of one bulk enqueue ``PUBLISH_CHUNK`` to a message: publishing is the slow part
    (a message each took 16 ms on the loaded machine, 80 s for a OneRoster import's 5,000 parents). Each is
    sent as by its own message (claimed first, so a duplicate message sends nothing twice); a chunk cut short
    (time limit, dead worker) leaves its rest pending for the beat task."""
    from .tasks import deliveries_send_task

    for start in range(0, len(ids), PUBLISH_CHUNK):
        chunk = list(ids[start : start + PUBLISH_CHUNK])
        try:
            _send(deliveries_send_task, (chunk,), at=at, now=now)
        except Exception:
            logger.warning("outbox: could not publish deliveries %s; the beat task will", chunk, exc_info=True)


def email_enqueue(
    *,
    kind: str,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
    html: bool = True,
    language: str | None = None,
    **options: Any,
) -> Delivery:
    """Render ``<template>.txt`` / ``.html`` in ``language`` (default: the active one) and enqueue it.

    ``subject`` is rendered by the caller (already translated); pass it lazily or inside the same language.
    """
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    with translation.override(language):
        message = mail.templated_message(to=to, subject=str(subject), template=template, context=context, html=html)
    return delivery_enqueue(kind=kind, message=message, language=language, **options)


def deliveries_forget(*, references: Iterable[str] = (), prefix: str = "", keys: str = "") -> int:
    """Delete every delivery (sent or not) of these references, e.g. with an expired child sign-up.

    The references are ``references``, or ``prefix`` followed by each of the newline-joined ``keys`` (a batch
    of expiry passes its 10,000 ids as the one string its DELETE returned: the references are made in the
    statement, not 10,000 strings in Python). One statement whatever their number: the deliveries through
    the reference index, and the attachments of the deleted ones (the attachment's foreign key is checked at
    commit, so the order inside the statement does not matter)."""
    wanted = "\n".join(references)
    if wanted and keys:
        raise ValueError("deliveries_forget: references or keys, not both")
    if not wanted and not keys:
        return 0
    delivery = connection.ops.quote_name(Delivery._meta.db_table)
    attachment = connection.ops.quote_name(DeliveryAttachment._meta.db_table)
    named = (
        "string_to_array(%s, E'\\n')"
        if wanted
        else "ARRAY(SELECT %s || key FROM unnest(string_to_array(%s, E'\\n')) key)"
    )
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"WITH gone AS (DELETE FROM {delivery} WHERE reference = ANY({named}) "  # noqa: S608
            f"RETURNING id), attached AS (DELETE FROM {attachment} WHERE delivery_id IN (SELECT id FROM gone)) "
            "SELECT count(*) FROM gone",
            [wanted] if wanted else [prefix, keys],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def deliveries_forget_ctes(*, prefix: str, keys: str, name: str = "forgotten") -> tuple[str, list[Any]]:
    """:func:`deliveries_forget`'s work as data-modifying CTEs for the caller's own statement (e.g. a batch's
    ``DELETE ... RETURNING id``, ``mindomo.bulk.InStatement``): the deliveries whose reference is ``prefix``
    followed by one of the values the subquery ``keys`` selects (``SELECT id FROM gone``), and their attachments.
    Returns the CTEs (named ``name`` and ``name``_attachments) and their parameters."""
    delivery = connection.ops.quote_name(Delivery._meta.db_table)
    attachment = connection.ops.quote_name(DeliveryAttachment._meta.db_table)
    return (
        f"{name} AS (DELETE FROM {delivery} WHERE reference = ANY(ARRAY("  # noqa: S608
        f"SELECT %s::text || key::text FROM ({keys}) AS keys(key))) RETURNING id), "
        f"{name}_attachments AS (DELETE FROM {attachment} WHERE delivery_id IN (SELECT id FROM {name}))",
        [prefix],
    )


def _message(delivery: Delivery) -> EmailMessage:
    message = EmailMultiAlternatives(
        subject=delivery.subject,
        body=delivery.text_body,
        from_email=delivery.from_email,
        to=[delivery.to_email],
        reply_to=delivery.reply_to or None,
        headers=delivery.headers or None,
    )
    if delivery.html_body:
        message.attach_alternative(delivery.html_body, "text/html")
    for attachment in delivery.attachments.all():
        message.attach(attachment.filename, bytes(attachment.content), attachment.mimetype)
    return message


def _claim(*, delivery_id: int, now: datetime) -> Delivery | None:
    """Move a due delivery to ``sending`` (locked, committed before any SMTP), or None: nothing to do."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.status not in (Delivery.Status.PENDING, Delivery.Status.SENDING):
            return None
        claim_timeout = timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS)
        if (
            delivery.status == Delivery.Status.SENDING
            and delivery.claimed_at
            and delivery.claimed_at > now - claim_timeout
        ):
            return None  # another worker is sending it
        if delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at > now + EARLY_TOLERANCE:
            return None  # not due: a later message (the retry's) owns it
        if delivery.expires_at is not None and delivery.expires_at <= now:
            delivery.status = Delivery.Status.CANCELLED
            delivery.failed_at = now
            delivery.error = "expired before it could be delivered"
            delivery.save(update_fields=["status", "failed_at", "error"])
            return None
        delivery.status = Delivery.Status.SENDING
        delivery.claimed_at = now
        delivery.attempts += 1
        delivery.save(update_fields=["status", "claimed_at", "attempts"])
        return delivery


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> str:
    """Send one delivery if it is due and nobody else is sending it; record what the server answered.

    Returns the delivery's status afterwards ("missing" when there is no such row, e.g. forgotten).
    """
    now = now or timezone.now()
    delivery = _claim(delivery_id=delivery_id, now=now)
    if delivery is None:
        status = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return status or "missing"
    try:
        with translation.override(delivery.language or settings.LANGUAGE_CODE):
            mail.send_now(_message(delivery))
    except Exception as exc:
        return _record_failure(delivery=delivery, failure=mail.classify(exc), now=now)
    finished = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING)
    with transaction.atomic():
        if delivery.forget_when_sent:
            claimed.delete()
        else:
            claimed.update(status=Delivery.Status.SENT, sent_at=finished, error="", claimed_at=None)
        for hook in hooks.delivery_sent:
            try:
                with transaction.atomic():
                    hook(delivery, finished)
            except Exception:  # the email went out: never undo "sent" (it would be sent again)
                logger.exception("outbox: a delivery_sent hook failed for delivery %s (%s)", delivery.pk, delivery.kind)
    return Delivery.Status.SENT


def _record_failure(*, delivery: Delivery, failure: mail.SendFailure, now: datetime) -> str:
    claimed = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING)
    gave_up = now >= delivery.due_at + timedelta(hours=settings.MAIL_RETRY_HOURS)
    if failure.permanent or gave_up:
        logger.warning("outbox: delivery %s (%s) failed: %s", delivery.pk, delivery.kind, failure.answer)
        claimed.update(status=Delivery.Status.FAILED, failed_at=now, error=failure.answer[:2000], claimed_at=None)
        return Delivery.Status.FAILED
    at = now + timedelta(seconds=mail.retry_delay(delivery.attempts))
    logger.info("outbox: delivery %s will be retried at %s: %s", delivery.pk, at.isoformat(), failure.answer)
    claimed.update(
        status=Delivery.Status.PENDING,
        next_attempt_at=at,
        queued_for=at,
        error=failure.answer[:2000],
        claimed_at=None,
    )
    _publish(delivery.pk, at=at, now=now)
    return Delivery.Status.PENDING


def deliveries_resume(*, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Beat: publish the deliveries that are due and whose task message did not run.

    A claim older than OUTBOX_CLAIM_TIMEOUT_SECONDS (the worker died while sending) goes back to pending;
    a pending delivery that fell due with no message, or whose message was due OUTBOX_LOST_AFTER_SECONDS ago
    and did not run (Redis lost it, the worker was killed), is published again. Returns how many.
    """
    now = now or timezone.now()
    Delivery.objects.filter(
        status=Delivery.Status.SENDING,
        claimed_at__lte=now - timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS),
    ).update(status=Delivery.Status.PENDING, next_attempt_at=F("claimed_at"), queued_for=None, claimed_at=None)
    lost_before = now - timedelta(seconds=settings.OUTBOX_LOST_AFTER_SECONDS)
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            .filter(Q(queued_for__isnull=True) | Q(queued_for__lte=lost_before))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        Delivery.objects.filter(pk__in=ids).update(queued_for=now)
    for pk in ids:
        _publish(pk, at=now, now=now)
    return len(ids)


@transaction.atomic
def delivery_retry(*, delivery_id: int) -> bool:
    """Staff: send a failed (or cancelled) delivery again, with a fresh retry window. False if not failed."""
    now = timezone.now()
    updated = Delivery.objects.filter(
        pk=delivery_id, status__in=[Delivery.Status.FAILED, Delivery.Status.CANCELLED]
    ).update(
        status=Delivery.Status.PENDING,
        due_at=now,
        next_attempt_at=now,
        expires_at=None,
        queued_for=now,
        failed_at=None,
    )
    if updated:
        transaction.on_commit(lambda: _publish(delivery_id, at=now, now=timezone.now()))
    return bool(updated)
