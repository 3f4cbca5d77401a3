"""Benchmark: the consent ledger's appends (advisory lock, hash chain, INSERT) against a bare INSERT of the
same rows into a copy of the table with the same indexes, single-event appends against single bare
INSERTs, and the verification walk against a bare fetch of the same columns.

Everything runs inside one transaction that is rolled back at the end: the ledger is append-only (a trigger
refuses DELETE), so a benchmark must never commit rows to it. BENCH_LEDGER_ROWS sets the events per
sample (default 20,000, in batches of 1,000); BENCH_LEDGER_SINGLES the single appends (default 300).
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.db import connection, transaction  # noqa: E402

from consent import ledger  # noqa: E402
from consent.models import LedgerEntry  # noqa: E402

ROWS = env_int("BENCH_LEDGER_ROWS", 20_000)
SINGLES = env_int("BENCH_LEDGER_SINGLES", 300)
BATCH = 1000
INSERT = (
    "INSERT INTO bench_ledger (seq, at, kind, subject, actor, method, rule, rule_version, policy_version, detail, "
    "prev_hash, hash) VALUES (%s, now(), %s, %s, 'system', %s, %s, %s, %s, '{}'::jsonb, '', %s)"
)


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


def jobs() -> Iterator[Job]:
    before = LedgerEntry.objects.count()
    seq = [10**9]

    def rows(count: int) -> list[tuple[object, ...]]:
        out = []
        for _ in range(count):
            seq[0] += 1
            out.append(
                (seq[0], "reminded", secrets.token_hex(16), "email_plus", "US", 1, "2018-05-24", secrets.token_hex(32))
            )
        return out

    def bare_batches() -> None:
        with connection.cursor() as cursor:
            for _ in range(ROWS // BATCH):
                cursor.executemany(INSERT, rows(BATCH))

    def bare_singles() -> None:
        with connection.cursor() as cursor:
            for row in rows(SINGLES):
                with transaction.atomic():
                    cursor.execute(INSERT, row)

    def appends() -> None:
        for _ in range(ROWS // BATCH):
            ledger.append(events(BATCH))

    def singles() -> None:
        for single in events(SINGLES):
            with transaction.atomic():
                ledger.append([single])

    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("CREATE TEMP TABLE bench_ledger (LIKE consent_ledgerentry INCLUDING ALL)")
            yield Job(
                f"ledger appends, {ROWS:,} in batches of {BATCH:,}", appends, bare_batches, baseline_label="bare INSERT"
            )
            yield Job(f"ledger single appends, {SINGLES:,}", singles, bare_singles, baseline_label="bare INSERT each")

            def verify() -> None:
                assert ledger.verify_chain().ok

            def fetch() -> None:
                every = LedgerEntry.objects.order_by("seq").values_list(*ledger.FIELDS, "prev_hash", "hash")
                for _ in every.iterator(chunk_size=5000):
                    pass

            yield Job(
                f"ledger verification, {LedgerEntry.objects.count():,} rows", verify, fetch, baseline_label="bare fetch"
            )
            raise Rollback
    except Rollback:
        pass
    assert LedgerEntry.objects.count() == before  # nothing committed


if __name__ == "__main__":
    main(jobs)
