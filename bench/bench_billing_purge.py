"""Benchmark: the invoice retention purge (batched, through the ORM) against one raw SQL DELETE of the same rows.

Run against a migrated database (make bench, or DATABASE_URL=... python bench/bench_billing_purge.py).
BENCH_ROWS sets the number of expired invoices (default 50,000); as many current invoices are kept and must
survive. Prints rows per second of each and the ratio.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.base")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from billing import services  # noqa: E402
from billing.models import Invoice  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "50000"))
SERIES = "BEN"  # a series of its own, so nothing real is touched


def build(*, year: int, count: int, offset: int) -> None:
    issued = datetime(year, 6, 1, tzinfo=UTC)
    batch = [
        Invoice(
            kind=Invoice.Kind.INVOICE,
            series=SERIES,
            year=year,
            sequence=offset + i,
            number=f"{SERIES}-{year}-{offset + i:07d}",
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


def main() -> None:
    this_year = timezone.localdate().year
    expired_year = this_year - settings.INVOICE_RETENTION_YEARS - 1
    Invoice.objects.filter(series=SERIES).delete()
    if Invoice.objects.filter(year__lt=this_year - settings.INVOICE_RETENTION_YEARS).exists():
        sys.exit("This database already holds invoices past retention; run the bench on a scratch database.")
    build(year=this_year, count=ROWS, offset=0)  # kept by both

    build(year=expired_year, count=ROWS, offset=0)
    start = time.perf_counter()
    result = services.invoices_purge()
    ours = time.perf_counter() - start
    assert result.deleted == ROWS, result

    build(year=expired_year, count=ROWS, offset=0)
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM billing_invoice WHERE year < %s", [result.cutoff_year])
        raw_deleted = cursor.rowcount
    raw = time.perf_counter() - start
    assert raw_deleted == ROWS
    kept = Invoice.objects.filter(series=SERIES, year=this_year).count()
    Invoice.objects.filter(series=SERIES).delete()
    assert kept == ROWS

    print(f"invoice purge, {ROWS} expired rows among {2 * ROWS} (batches of {services.BATCH_SIZE}):")
    print(f"  invoices_purge (ORM, batched): {ours:8.3f} s  {ROWS / ours:10.0f} rows/s")
    print(f"  raw SQL DELETE (one statement): {raw:8.3f} s  {ROWS / raw:10.0f} rows/s")
    print(f"  ratio (purge time / raw time):  {ours / raw:8.2f}x")


if __name__ == "__main__":
    main()
