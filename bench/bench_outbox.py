"""Benchmark: what the outbox costs per email, and the beat task's cost when nothing is due.

``outbox: record, claim, send, mark`` writes BENCH_OUTBOX_EMAILS emails (default 500) as deliveries (one
transaction each, as a request would), then sends each through ``delivery_send`` (claim, send, mark sent),
against the baseline of building and sending the same messages directly, as the product did before the
outbox. Both use Django's in-memory backend, so the figures are the outbox's own database work, not SMTP.

``outbox-resume, nothing due`` runs the beat task's query over BENCH_OUTBOX_ROWS sent rows (default 20,000)
against a budget of 20 ms.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.core.mail import EmailMultiAlternatives  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from mindomo.outbox import services  # noqa: E402
from mindomo.outbox.models import Delivery  # noqa: E402

EMAILS = env_int("BENCH_OUTBOX_EMAILS", 500)
ROWS = env_int("BENCH_OUTBOX_ROWS", 20_000)
KIND = "bench.outbox"


def _message(i: int) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=f"[Mindomo] Bench {i}", body="A short text body.\n" * 20, to=[f"bench{i}@example.com"]
    )
    message.attach_alternative("<p>A short HTML body.</p>" * 20, "text/html")
    return message


def jobs() -> Iterator[Job]:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Delivery.objects.filter(kind=KIND).delete()
    later = timezone.now() + timedelta(days=1)  # due later: no task message is published, this measures the rows

    def through_the_outbox() -> None:
        ids = []
        for i in range(EMAILS):
            with transaction.atomic():
                ids.append(services.delivery_enqueue(kind=KIND, message=_message(i), due_at=later).pk)
        for pk in ids:
            assert services.delivery_send(delivery_id=pk, now=later) == "sent"

    def directly() -> None:
        for i in range(EMAILS):
            _message(i).send()

    def clean() -> None:
        Delivery.objects.filter(kind=KIND).delete()

    try:
        yield Job(
            name=f"outbox: record, claim, send, mark ({EMAILS} emails)",
            project=through_the_outbox,
            baseline=directly,
            baseline_label="send directly",
            prepare_project=clean,
        )
        clean()
        now = timezone.now()
        Delivery.objects.bulk_create(
            [
                Delivery(
                    kind=KIND,
                    status=Delivery.Status.SENT,
                    to_email=f"bench{i}@example.com",
                    from_email="bench@example.com",
                    subject="Bench",
                    text_body="Body",
                    due_at=now,
                    next_attempt_at=now,
                    sent_at=now,
                )
                for i in range(ROWS)
            ],
            batch_size=5000,
        )
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE outbox_delivery")
        yield Job(
            name=f"outbox-resume, nothing due ({ROWS} sent rows)",
            project=lambda: services.deliveries_resume(),
            budget_seconds=0.02,
            goal=1,
        )
    finally:
        clean()


if __name__ == "__main__":
    main(jobs)
