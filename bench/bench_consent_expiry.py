"""Benchmark: the expiry of pending child sign-ups (batched, SKIP LOCKED, through the ORM) against one raw SQL
DELETE of the same rows, and the age gate's decision against a bare dictionary lookup.

Run against a migrated database (make bench, or DATABASE_URL=... python bench/bench_consent_expiry.py).
BENCH_ROWS sets the number of expired requests (default 50,000); as many open requests are kept and must
survive. Prints rows per second of each and the ratio.

Since the consent ledger (issue 4), the service also appends one pseudonymous "expired" ledger row per request
in the same batch (the raw DELETE does not): those rows stay in the database, as the ledger is append-only.
"""

from __future__ import annotations

import datetime
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.base")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from consent import services  # noqa: E402
from consent.age_gate import decide  # noqa: E402
from consent.models import AgeRule, PendingSignup  # noqa: E402
from consent.reference_data import ensure_loaded  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "50000"))
MARK = "BENCH"  # the public ids of the benchmark's rows start with this, so nothing real is touched


def build(*, count: int, created: datetime.datetime, tag: str) -> None:
    rule = AgeRule.objects.get(country="US", superseded_at__isnull=True)
    for start in range(0, count, 5000):
        PendingSignup.objects.bulk_create(
            [
                PendingSignup(
                    public_id=f"{MARK}{tag}{start + i}-{secrets.token_hex(4)}",
                    login_digest=services.login_digest(f"{MARK}-{tag}-{start + i}-{secrets.token_hex(4)}"),
                    sealed="gAAAAbench",
                    parent_email=f"bench{start + i}@example.com",
                    country="US",
                    rule=rule,
                    consent_month=datetime.date(2030, 1, 1),
                    created_at=created,
                    expires_at=created + datetime.timedelta(days=7),
                    reminder_due_at=None,
                )
                for i in range(min(5000, count - start))
            ]
        )


def main() -> None:
    ensure_loaded()
    PendingSignup.objects.filter(public_id__startswith=MARK).delete()
    now = timezone.now()
    old = now - datetime.timedelta(days=8)

    build(count=ROWS, created=old, tag="a")
    build(count=ROWS, created=now, tag="keep")
    started = time.perf_counter()
    deleted = services.pending_signups_expire(now=now)
    service_seconds = time.perf_counter() - started
    assert deleted >= ROWS, deleted
    assert PendingSignup.objects.filter(public_id__startswith=f"{MARK}keep").count() == ROWS

    build(count=ROWS, created=old, tag="b")
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_pendingsignup WHERE expires_at <= %s", [now])
        raw_deleted = cursor.rowcount
    raw_seconds = time.perf_counter() - started
    PendingSignup.objects.filter(public_id__startswith=MARK).delete()

    print(f"expiry service: {deleted} rows in {service_seconds:.2f}s = {deleted / service_seconds:,.0f} rows/s")
    print(f"raw SQL DELETE: {raw_deleted} rows in {raw_seconds:.2f}s = {raw_deleted / raw_seconds:,.0f} rows/s")
    print(f"ratio service/raw throughput: {(deleted / service_seconds) / (raw_deleted / raw_seconds):.2f}")

    today = now.date()
    births = [today - datetime.timedelta(days=d) for d in range(3000, 9000, 3)]
    countries = ["US", "DE", "FR", "AT", "BR", "IN", "GB", "NL"]
    started = time.perf_counter()
    for n, born in enumerate(births):
        decide(birth_date=born, country=countries[n % len(countries)], today=today)
    gate_seconds = time.perf_counter() - started
    ages = {c: 16 for c in countries}
    started = time.perf_counter()
    for n, born in enumerate(births):
        _ = (today.year - born.year) >= ages[countries[n % len(countries)]]
    dict_seconds = max(time.perf_counter() - started, 1e-9)
    print(
        f"age gate decisions: {len(births) / gate_seconds:,.0f}/s (one indexed query each) vs "
        f"{len(births) / dict_seconds:,.0f}/s for an in-memory lookup (ratio {dict_seconds / gate_seconds:.4f})"
    )


if __name__ == "__main__":
    main()
