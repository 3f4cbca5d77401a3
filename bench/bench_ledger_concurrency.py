"""Benchmark: consent ledger appends from 8 concurrent writers (threads, each with its own database
connection, each append its own committed transaction, as 8 web workers recording consent events for
different children) against the same 8 writers committing bare INSERTs of the same rows into a copy of the
table with the same indexes. appends/s = rows / time.

The appended rows are committed (a benchmark cannot roll back what other connections must wait for): run it
on a scratch database. BENCH_LEDGER_WRITERS (default 8) writers, BENCH_LEDGER_APPENDS appends each (default 150).
"""

from __future__ import annotations

import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.db import connection, transaction  # noqa: E402

from consent import ledger  # noqa: E402

WRITERS = env_int("BENCH_LEDGER_WRITERS", 8)
APPENDS = env_int("BENCH_LEDGER_APPENDS", 150)
SQL: list[str] = []  # INSERT with or without the chain column (before or after the ledger's partitioning)
INSERT = (
    "INSERT INTO bench_ledger_concurrent (seq, at, kind, subject, actor, method, rule, rule_version, "
    "policy_version, detail, {chain}prev_hash, hash) VALUES (nextval('bench_ledger_concurrent_seq'), now(), "
    "'suspended', %s, 'system', 'email_plus', 'US', 1, '2018-05-24', '{{}}'::jsonb, {zero}'', %s)"
)


def _in_threads(work: Callable[[int], None]) -> None:
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            work(n)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def appends(_n: int) -> None:
    for _ in range(APPENDS):
        with transaction.atomic():
            ledger.append(
                [
                    ledger.Event(
                        kind="suspended",
                        subject=secrets.token_hex(16),
                        method="email_plus",
                        rule_label="US",
                        rule_version=1,
                        policy_version="2018-05-24",
                    )
                ]
            )


def inserts(_n: int) -> None:
    with connection.cursor() as cursor:
        for _ in range(APPENDS):
            with transaction.atomic():
                cursor.execute(SQL[0], [secrets.token_hex(16), secrets.token_hex(32)])


def jobs() -> Iterator[Job]:
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_ledger_concurrent")
        cursor.execute("CREATE TABLE bench_ledger_concurrent (LIKE consent_ledgerentry INCLUDING ALL)")
        cursor.execute("CREATE SEQUENCE IF NOT EXISTS bench_ledger_concurrent_seq")
        cursor.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'consent_ledgerentry' AND column_name = 'chain'"
        )
        chained = cursor.fetchone() is not None
    SQL[:] = [INSERT.format(chain="chain, " if chained else "", zero="0, " if chained else "")]
    try:
        yield Job(
            f"ledger appends, {WRITERS} concurrent writers x {APPENDS} (each its own transaction)",
            lambda: _in_threads(appends),
            lambda: _in_threads(inserts),
            baseline_label="bare INSERTs, same writers",
        )
        assert ledger.verify_chain().ok
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_ledger_concurrent")
            cursor.execute("DROP SEQUENCE IF EXISTS bench_ledger_concurrent_seq")


if __name__ == "__main__":
    main(jobs)
