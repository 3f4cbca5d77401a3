from celery import shared_task

from . import services


@shared_task(acks_late=True)
def delivery_send_task(delivery_id: int) -> str:
    """Send one delivery (idempotent by its id: a duplicate or redelivered message finds it claimed or sent)."""
    return services.delivery_send(delivery_id=delivery_id)


@shared_task
def deliveries_resume_task() -> int:
    """Beat: publish again what a lost or crashed task message left pending."""
    return services.deliveries_resume()
