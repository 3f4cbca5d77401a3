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
