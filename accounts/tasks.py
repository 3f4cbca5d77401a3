from typing import Any

from celery import shared_task
from django.utils import timezone

from mindomo.jobs import run_in_slices

from . import services
from .models import UserSession


@shared_task
def sessions_clear_expired_task() -> int:
    """Expired sessions may still hold what a visitor typed (allauth keeps pending sign-ups there)."""

    deleted, _ = UserSession.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


# --- Data subject rights: export, deletion (expired exports and support inquiries: the retention engine) ---
@shared_task
def data_export_build_task(export_id: int) -> None:
    services.data_export_build(export_id=export_id)


@shared_task
def data_exports_resume_task() -> int:
    """Queue again the builds of exports whose worker died (or whose message was lost); each build decides."""
    stale = services.data_exports_resume()
    for export_id in stale:
        data_export_build_task.delay(export_id)
    return len(stale)


@shared_task
def account_erasure_run_task(request_id: int) -> None:
    services.account_erasure_run(request_id=request_id)


@shared_task(bind=True)
def account_erasures_due_task(self: Any) -> int:
    """Erase accounts whose grace period ended; retry failed or interrupted erasures."""
    return run_in_slices(self, lambda: services.account_erasures_due(), interrupted=0)
