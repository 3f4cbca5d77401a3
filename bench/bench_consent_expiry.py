"""Benchmark: the expiry of pending child sign-ups (``consent.services.pending_signups_expire``: batches of
about 10,000, each one DELETE ... RETURNING that also forgets the requests' emails, by ranges of the table's
blocks when the planner would read the whole table, as it does here with half the table due, else in keyset
order on the expiry index; the runs taking turns on an advisory lock; plus one ledger entry per batch) against
one raw SQL DELETE of the same rows. Three more lines per size measure the floor under the batches: the same
batches' statements alone (``mindomo.bulk.delete_in_batches`` with the expiry's key, columns, lock and the
outbox's CTE in each DELETE, as the service sends them: only the ledger entries left out), and one DELETE of
all the rows returning (aggregated) what the ledger and the outbox need, the ids and pseudonyms, in one
transaction: what returning them costs without the batches; and one DELETE returning no column at all
(``RETURNING 1``, counted): what PostgreSQL's RETURNING costs in itself (it reads each deleted row again).

Before each sample, untimed, N expired requests are inserted (one INSERT ... SELECT generate_series) beside
as many open ones that must survive, then the table is vacuumed and analysed, so both sides find the same
rows and indexes. N is 10,000 and 100,000 by default (to show how the cost grows); BENCH_EXPIRY_SIZES
changes the list, e.g. ``BENCH_EXPIRY_SIZES=10000,100000,1000000`` for the million-row run (or
``BENCH_EXPIRY_MILLION=1`` to add it). The ledger rows the service appends stay (the ledger is append-only).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, main, setup_django

setup_django()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from consent import services  # noqa: E402
from consent.models import AgeRule  # noqa: E402
from consent.reference_data import ensure_loaded  # noqa: E402
from mindomo import bulk  # noqa: E402

SIZES = [int(s) for s in os.environ.get("BENCH_EXPIRY_SIZES", "10000,100000").split(",") if s.strip()]
if os.environ.get("BENCH_EXPIRY_MILLION") and 1_000_000 not in SIZES:
    SIZES.append(1_000_000)
MARK = "BENCH"  # the public ids of the benchmark's rows start with this, so nothing real is touched
# the expiry's batch statements as the service sends them (the outbox's CTE in each), without its ledger entries
statements_only = dataclasses.replace(services.pending_signups_expired_logged, then=None)


def insert(*, count: int, tag: str, age: str) -> None:
    """``count`` requests created ``age`` ago (an interval), with the columns a real request has."""
    rule = AgeRule.objects.get(country="US", superseded_at__isnull=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO consent_pendingsignup (public_id, login_digest, sealed, parent_email, country, rule_id, "
            "consent_month, created_at, expires_at, resend_count, reminder_due_at, ledger_subject, language) "
            "SELECT %s || g || '-' || substr(md5(random()::text), 1, 8), encode(sha256(random()::text::bytea), 'hex'), "
            "'gAAAAbench' || repeat('x', 200), 'bench' || g || '@example.com', 'US', %s, '2030-01-01', "
            "now() - %s::interval, now() - %s::interval + interval '7 days', 0, NULL, "
            "substr(md5(random()::text), 1, 32), '' FROM generate_series(1, %s) g",
            [f"{MARK}{tag}", rule.pk, age, age, count],
        )


def prepare(count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_pendingsignup WHERE public_id LIKE %s", [f"{MARK}old%"])
    insert(count=count, tag="old", age="8 days")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE consent_pendingsignup")


# the floor's single statements: the due rows deleted at once, returning what the expiry needs, or nothing
RETURNING_ALL = (
    "WITH gone AS (DELETE FROM consent_pendingsignup WHERE expires_at <= now() RETURNING id, ledger_subject) "
    "SELECT count(*), string_agg(id::text, E'\\n'), string_agg(ledger_subject, E'\\n') FROM gone"
)
RETURNING_NOTHING = (
    "WITH gone AS (DELETE FROM consent_pendingsignup WHERE expires_at <= now() RETURNING 1) SELECT count(*) FROM gone"
)


def counted(sql: str, size: int) -> Callable[[], None]:
    """Run ``sql`` (its first column: how many rows it deleted), checking it deleted ``size``."""

    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            row = cursor.fetchone()
            assert row[0] == size, row[0]

    return run


def jobs() -> Iterator[Job]:
    ensure_loaded()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_pendingsignup WHERE public_id LIKE %s", [f"{MARK}%"])
    try:
        for size in SIZES:
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM consent_pendingsignup WHERE public_id LIKE %s", [f"{MARK}keep%"])
            insert(count=size, tag="keep", age="1 hour")

            def service(size: int = size) -> None:
                deleted = services.pending_signups_expire(now=timezone.now())
                assert deleted == size, deleted

            def raw(size: int = size) -> None:
                with connection.cursor() as cursor:
                    cursor.execute("DELETE FROM consent_pendingsignup WHERE expires_at <= now()")
                    assert cursor.rowcount == size, cursor.rowcount

            def floor(size: int = size) -> None:
                deleted = bulk.delete_in_batches(
                    services.pending_signups_expired(timezone.now()),
                    key=services.EXPIRY_KEY,
                    returning=services.EXPIRY_RETURNING,
                    after_delete=statements_only,
                    lock=services.EXPIRY_LOCK,
                )
                assert deleted == size, deleted

            yield Job(
                f"expire pending sign-ups, {size:,} of {2 * size:,}",
                service,
                raw,
                goal=1.3,
                prepare_project=lambda size=size: prepare(size),  # type: ignore[misc]
                prepare_baseline=lambda size=size: prepare(size),  # type: ignore[misc]
                baseline_label="raw DELETE",
            )

            floors = [
                ("the same batch DELETEs alone", floor),
                ("one DELETE returning ids and pseudonyms", counted(RETURNING_ALL, size)),
                ("one DELETE returning no column (RETURNING 1, counted)", counted(RETURNING_NOTHING, size)),
            ]
            for label, run in floors:
                yield Job(
                    f"  floor: {label}, {size:,}",
                    run,
                    raw,
                    prepare_project=lambda size=size: prepare(size),  # type: ignore[misc]
                    prepare_baseline=lambda size=size: prepare(size),  # type: ignore[misc]
                    baseline_label="raw DELETE",
                )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM consent_pendingsignup WHERE public_id LIKE %s", [f"{MARK}%"])


if __name__ == "__main__":
    main(jobs)
