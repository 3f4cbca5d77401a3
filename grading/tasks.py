from celery import shared_task

from . import schools


@shared_task(autoretry_for=(OSError,), retry_backoff=60, max_retries=5)
def teacher_invitation_send_task(invitation_id: int) -> bool:
    return schools.teacher_invitation_send(invitation_id=invitation_id)
