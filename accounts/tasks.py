from celery import shared_task
from django.contrib.sessions.models import Session
from django.utils import timezone

from . import services


@shared_task
def unverified_accounts_purge_task() -> int:
    return services.unverified_accounts_purge()


@shared_task
def sessions_clear_expired_task() -> int:
    """Expired sessions may still hold what a visitor typed (allauth keeps pending sign-ups there)."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


# --- Data subject rights: export, deletion, support ---


@shared_task
def data_export_build_task(export_id: int) -> None:
    services.data_export_build(export_id=export_id)


@shared_task
def data_exports_expire_task() -> int:
    return services.data_exports_expire()


@shared_task
def account_erasure_run_task(request_id: int) -> None:
    services.account_erasure_run(request_id=request_id)


@shared_task
def account_erasures_due_task() -> int:
    """Erase accounts whose grace period ended; retry failed or interrupted erasures."""
    return services.account_erasures_due()


@shared_task
def support_inquiries_purge_task() -> int:
    return services.support_inquiries_purge()
