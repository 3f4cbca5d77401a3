from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def prepared_file_build_task(prepared_id: int) -> None:
    services.prepared_file_build(prepared_id=prepared_id)
