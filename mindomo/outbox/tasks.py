from celery import shared_task

from . import services
from .models import Delivery


@shared_task(acks_late=True)
def delivery_send_task(delivery_id: int) -> str:
    """Send one delivery (idempotent by its id: a duplicate or redelivered message finds it claimed or sent)."""
    return services.delivery_send(delivery_id=delivery_id)


@shared_task(acks_late=True)
def deliveries_send_task(delivery_ids: list[int]) -> int:
    """Send the deliveries of one bulk enqueue in turn (``services._publish_many``), each as
    ``delivery_send_task`` would: a duplicate or redelivered message finds them claimed or sent. Returns how
    many were sent."""
    return sum(services.delivery_send(delivery_id=pk) == Delivery.Status.SENT for pk in delivery_ids)


@shared_task
def deliveries_resume_task() -> int:
    """Beat: publish again what a lost or crashed task message left pending."""
    return services.deliveries_resume()
