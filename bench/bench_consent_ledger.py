"""Benchmark: the consent ledger's appends (advisory lock, hash chain, bulk INSERT) against a bare INSERT of the
same rows, single-event appends (what a service call does), and the verification command's walk against a bare
fetch of the rows.

Everything runs inside one transaction that is rolled back at the end: the ledger is append-only (a trigger
refuses DELETE), so a benchmark must never commit rows to it. BENCH_ROWS sets the number of events (default
50,000). Run against a migrated database (make bench, or DATABASE_URL=... python bench/bench_consent_ledger.py).
"""

from __future__ import annotations

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

from django.db import connection, transaction  # noqa: E402

from consent import ledger  # noqa: E402
from consent.models import LedgerEntry  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "50000"))
BATCH = 1000
SINGLES = 500


class Rollback(Exception):
    pass


def events(count: int) -> list[ledger.Event]:
    return [
        ledger.Event(
            kind="reminded",
            subject=secrets.token_hex(16),
            method="email_plus",
            rule_label="US",
            rule_version=1,
            policy_version="2018-05-24",
        )
        for _ in range(count)
    ]


def main() -> None:
    before = LedgerEntry.objects.count()
    try:
        with transaction.atomic():
            batches = [events(BATCH) for _ in range(ROWS // BATCH)]
            started = time.perf_counter()
            for batch in batches:
                ledger.append(batch)
            append_seconds = time.perf_counter() - started

            started = time.perf_counter()
            for single in events(SINGLES):
                with transaction.atomic():
                    ledger.append([single])
            single_seconds = time.perf_counter() - started

            with connection.cursor() as cursor:
                cursor.execute("CREATE TEMP TABLE bench_ledger (LIKE consent_ledgerentry INCLUDING DEFAULTS)")
                rows = [
                    (n, "reminded", secrets.token_hex(16), "system", "email_plus", "US", 1, "2018-05-24", "{}")
                    for n in range(ROWS)
                ]
                started = time.perf_counter()
                for start in range(0, ROWS, BATCH):
                    cursor.executemany(
                        "INSERT INTO bench_ledger (id, seq, at, kind, subject, actor, method, rule, rule_version, "
                        "policy_version, detail, prev_hash, hash) VALUES (%s, %s, now(), %s, %s, %s, %s, %s, %s, "
                        "%s, %s::jsonb, '', md5(random()::text))",
                        [(r[0], r[0], *r[1:]) for r in rows[start : start + BATCH]],
                    )
                raw_seconds = time.perf_counter() - started

            started = time.perf_counter()
            report = ledger.verify_chain()
            verify_seconds = time.perf_counter() - started
            assert report.ok, report
            started = time.perf_counter()
            every_column = LedgerEntry.objects.order_by("seq").values_list(*ledger.FIELDS, "prev_hash", "hash")
            fetched = sum(1 for _ in every_column.iterator(chunk_size=5000))
            fetch_seconds = time.perf_counter() - started
            raise Rollback
    except Rollback:
        pass
    assert LedgerEntry.objects.count() == before  # nothing committed

    print(f"ledger appends ({BATCH}/batch): {ROWS} rows in {append_seconds:.2f}s = {ROWS / append_seconds:,.0f} rows/s")
    print(f"bare INSERT of the same rows:   {ROWS} rows in {raw_seconds:.2f}s = {ROWS / raw_seconds:,.0f} rows/s")
    print(f"ratio ledger/bare throughput: {(ROWS / append_seconds) / (ROWS / raw_seconds):.2f}")
    print(f"single-event appends (one per transaction, as a service does): {SINGLES / single_seconds:,.0f}/s")
    verified = report.checked / verify_seconds
    print(
        f"verify_chain: {report.checked} rows in {verify_seconds:.2f}s = {verified:,.0f} rows/s; "
        f"bare fetch of the same columns: {fetched / fetch_seconds:,.0f} rows/s "
        f"(ratio {verified / (fetched / fetch_seconds):.2f})"
    )


if __name__ == "__main__":
    main()
