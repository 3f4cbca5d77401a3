from __future__ import annotations

from typing import Any

from celery import shared_task

from mindomo.jobs import run_in_slices

from . import services
from .models import PolicyVersion


@shared_task(bind=True)
def retention_apply_task(self: Any) -> dict[str, int]:
    return run_in_slices(self, lambda: {o.rule.name: o.count for o in services.retention_apply()}, interrupted={})


@shared_task
def policy_parents_notify_task(version_id: int) -> int:
    version = PolicyVersion.objects.filter(pk=version_id).first()
    return services.policy_parents_notify(version=version) if version else 0


@shared_task
def policy_reconsent_followup_task() -> dict[str, int]:
    """Daily (beat): remind the parents who have not answered a material change, then pause their children."""
    return services.policy_reconsent_followup()


@shared_task
def notice_deliver_batch_task(notice_id: int) -> int:
    """Hand one batch of a notice to the outbox; re-enqueue itself after NOTICE_BATCH_INTERVAL until none is
    pending. Rows are claimed with SKIP LOCKED and each email is recorded in the same transaction, so two
    workers never queue the same user's email; the outbox sends and retries each one."""
    return services.notice_deliver_batch(notice_id=notice_id)
