from celery import shared_task

from . import services


@shared_task
def invoices_purge_task() -> int:
    return services.invoices_purge().deleted
