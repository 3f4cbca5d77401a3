from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import emails, services
from .models import Notice, NoticeDelivery, PolicyVersion


@shared_task
def retention_apply_task() -> dict[str, int]:
    return {o.rule.name: o.count for o in services.retention_apply()}


@shared_task
def policy_parents_notify_task(version_id: int) -> int:
    version = PolicyVersion.objects.filter(pk=version_id).first()
    return services.policy_parents_notify(version=version) if version else 0


@shared_task
def notice_deliver_batch_task(notice_id: int) -> int:
    """Send one batch of a notice; re-enqueue itself after NOTICE_BATCH_INTERVAL until none is pending.

    Rows are claimed with SKIP LOCKED, so two workers never send the same delivery.
    """
    sent = 0
    with transaction.atomic():
        batch = list(
            NoticeDelivery.objects.select_for_update(skip_locked=True)
            .filter(notice_id=notice_id, state=NoticeDelivery.State.PENDING)
            .select_related("user", "notice")
            .order_by("pk")[: settings.NOTICE_BATCH_SIZE]
        )
        for delivery in batch:
            delivery.attempts += 1
            try:
                emails.send_notice(notice=delivery.notice, user=delivery.user)
            except Exception as exc:
                delivery.state = NoticeDelivery.State.FAILED
                delivery.error = str(exc)[:300]
            else:
                delivery.state = NoticeDelivery.State.SENT
                delivery.sent_at = timezone.now()
                sent += 1
            delivery.save(update_fields=["attempts", "state", "error", "sent_at"])
    if NoticeDelivery.objects.filter(notice_id=notice_id, state=NoticeDelivery.State.PENDING).exists():
        notice_deliver_batch_task.apply_async((notice_id,), countdown=settings.NOTICE_BATCH_INTERVAL)
    else:
        Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).update(state=Notice.State.SENT)
    return sent
