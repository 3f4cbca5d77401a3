"""Demo: one email the mail server refused for good, for privacy staff to find in /admin/outbox/delivery/
(filter "Failed") and send again with the "retry" action (idempotent)."""

from __future__ import annotations

from django.utils import timezone

from mindomo.demo import DemoLogin

from .models import Delivery

REFERENCE = "demo:bounced"


def load() -> list[DemoLogin]:
    if not Delivery.objects.filter(reference=REFERENCE).exists():
        now = timezone.now()
        Delivery.objects.create(
            kind="privacy.notice",
            status=Delivery.Status.FAILED,
            to_email="no.such.mailbox@example.com",
            from_email="Mindomo <no-reply@mindomo.localhost>",
            subject="[Mindomo] An update about your account",
            text_body="This demo email was refused by the mail server.\n",
            language="en",
            reference=REFERENCE,
            due_at=now,
            next_attempt_at=now,
            attempts=1,
            failed_at=now,
            error="no.such.mailbox@example.com: 550 5.1.1 <no.such.mailbox@example.com>: Recipient address rejected",
        )
    return []
