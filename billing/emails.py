"""The invoice email: a short text with the PDF attached, through the outbox."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from mindomo.i18n import override
from mindomo.outbox import services as outbox

from .models import Invoice
from .pdf import invoice_pdf


def invoice_email_send(*, invoice: Invoice) -> bool:
    """Email the invoice (or credit note) to the buyer, recorded in the transaction that issues it.
    False when there is no address (detached)."""
    if not invoice.buyer_email or invoice.user_id is None:
        return False
    context = {
        "invoice": invoice,
        "invoices_url": settings.SITE_URL.rstrip("/") + reverse("billing:invoice_list"),
    }
    # the email and its PDF in the buyer's language
    with override(invoice.user.language if invoice.user else "") as language:
        subject = render_to_string("emails/billing/invoice_subject.txt", context).strip()
        body = render_to_string("emails/billing/invoice_body.txt", context)
        pdf = invoice_pdf(invoice)
    message = EmailMessage(subject=subject, body=body, to=[invoice.buyer_email])
    message.attach(f"{invoice.number}.pdf", pdf, "application/pdf")
    outbox.delivery_enqueue(kind="billing.invoice", message=message, user=invoice.user, language=language)
    return True
