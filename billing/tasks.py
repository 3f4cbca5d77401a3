from celery import shared_task

from . import emails, services
from .models import Invoice


@shared_task
def invoice_email_send_task(invoice_id: int) -> bool:
    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is None:  # purged or never committed: nothing to send
        return False
    return emails.invoice_email_send(invoice=invoice)


@shared_task
def invoices_purge_task() -> int:
    return services.invoices_purge().deleted
