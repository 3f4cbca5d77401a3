"""The invoice reaches the buyer over real SMTP, with the PDF attached; the beat schedule names a real task."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.conf import settings
from pypdf import PdfReader

from billing.emails import invoice_email_send
from mindomo.celery import app
from tests.billing.helpers import paid_invoice
from tests.support.smtp import body_text

pytestmark = pytest.mark.django_db


def test_invoice_email_arrives_over_smtp_with_the_pdf(
    member: Any, smtp_sink: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        invoice = paid_invoice(member)

    message = smtp_sink.wait_for(to=member.email, subject_contains=invoice.number)

    assert "Thank you for your purchase" in body_text(message)
    attachment = next(part for part in message.iter_attachments() if part.get_filename() == f"{invoice.number}.pdf")
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert f"Invoice {invoice.number}" in text
    assert "Zoë Éléonore Dupré" in text
    assert "Besançon" in text
    assert "€60.00" in text
    assert "VAT 20%" in text


def test_a_detached_invoice_is_not_emailed(member: Any, mailoutbox: Any) -> None:
    invoice = paid_invoice(member)
    invoice.user = None  # as after account deletion (not saved: only the sender reads it)

    assert invoice_email_send(invoice=invoice) is False
    assert mailoutbox == []


def test_the_retention_engine_beat_task_purges_invoices_past_retention() -> None:
    from mindomo.privacy import registry

    entry = settings.CELERY_BEAT_SCHEDULE["privacy-retention"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks
    assert "billing.invoices" in {rule.name for _provider, rule in registry.retention_rules()}
