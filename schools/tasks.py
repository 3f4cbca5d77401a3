from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from . import roster


@shared_task(soft_time_limit=settings.ROSTER_IMPORT_TIME_LIMIT - 30, time_limit=settings.ROSTER_IMPORT_TIME_LIMIT)
def roster_import_task(import_id: int) -> str:
    """Import a previewed and confirmed OneRoster zip (progress in the cache, shown on the import's page).

    Longer than other tasks (ROSTER_IMPORT_TIME_LIMIT): the file is written in one transaction. Out of time, the
    transaction rolls back and the import is marked failed. A message that comes back (its worker died: acks late)
    runs it again safely: see ``roster.roster_import_run``."""
    try:
        return roster.roster_import_run(import_id=import_id).state
    except SoftTimeLimitExceeded:
        return roster.roster_import_timed_out(import_id=import_id).state


@shared_task
def roster_previews_expired_delete_task() -> int:
    return roster.roster_previews_expired_delete()


@shared_task
def roster_imports_resume_task() -> int:
    """Beat: imports whose worker died (no progress for ROSTER_IMPORT_STALL_SECONDS) are queued again."""
    return roster.roster_imports_resume()
