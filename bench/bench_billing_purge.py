"""Benchmark: the invoice retention purge (``billing.services.invoices_purge``) against one raw SQL DELETE of
the same rows.

Before each sample, untimed, BENCH_PURGE_ROWS expired invoices (default 20,000) are inserted beside as many
current ones that must survive; the purge and the raw ``DELETE FROM billing_invoice WHERE year < cutoff`` run
on identical tables (same rows, same indexes), interleaved.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing import services  # noqa: E402
from billing.models import Invoice  # noqa: E402

ROWS = env_int("BENCH_PURGE_ROWS", 20_000)
SERIES = "BEN"  # a series of its own, so nothing real is touched


def build(*, year: int, count: int) -> None:
    issued = datetime(year, 6, 1, tzinfo=UTC)
    batch = [
        Invoice(
            kind=Invoice.Kind.INVOICE,
            series=SERIES,
            year=year,
            sequence=i,
            number=f"{SERIES}-{year}-{i:07d}",
            issued_at=issued,
            seller={"name": "Bench"},
            buyer_account_name="Zoë Dupré",
            buyer_email=f"bench{i}@example.com",
            billing_full_name="Zoë Dupré",
            billing_country="FR",
            billing_address="12 rue de l'Église",
            billing_city="Besançon",
            billing_postal_code="25000",
            billing_phone="+33 3 81 00 00 00",
            lines=[{"description": "Premium", "quantity": 1, "unit_price": "50.00", "amount": "50.00"}],
            currency="EUR",
            net_amount=Decimal("50.00"),
            vat_rate=Decimal("20.00"),
            vat_amount=Decimal("10.00"),
            total=Decimal("60.00"),
            gateway="braintree",
        )
        for i in range(count)
    ]
    Invoice.objects.bulk_create(batch, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE billing_invoice")


def jobs() -> Iterator[Job]:
    this_year = timezone.localdate().year
    cutoff = this_year - settings.INVOICE_RETENTION_YEARS
    expired_year = cutoff - 1
    Invoice.objects.filter(series=SERIES).delete()
    if Invoice.objects.filter(year__lt=cutoff).exists():
        sys.exit("This database already holds invoices past retention; run the bench on a scratch database.")
    build(year=this_year, count=ROWS)  # kept by both

    def purge() -> None:
        result = services.invoices_purge()
        assert result.deleted == ROWS, result

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM billing_invoice WHERE year < %s", [cutoff])
            assert cursor.rowcount == ROWS

    try:
        yield Job(
            f"invoice purge, {ROWS:,} of {2 * ROWS:,} rows",
            purge,
            raw,
            goal=1.3,
            prepare_project=lambda: build(year=expired_year, count=ROWS),
            prepare_baseline=lambda: build(year=expired_year, count=ROWS),
            baseline_label="raw DELETE",
        )
        assert Invoice.objects.filter(series=SERIES, year=this_year).count() == ROWS
    finally:
        Invoice.objects.filter(series=SERIES).delete()


if __name__ == "__main__":
    main(jobs)
