"""Where a run of the expiry spends its time: each part of ``consent.services.pending_signups_expire`` timed
inside the service (wrapped, not changed) at ``N`` due requests beside as many open ones (the benchmark's
rows, ``bench_consent_expiry``), medians of ``RUNS`` runs. Not a benchmark (no baseline, no ratio): it says
which part of a batch to work on. ``N=100000 RUNS=5 python bench/profile_consent_expiry.py``; the parts a
checkout does not have are left out, so it runs on an older one too.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import setup_django

setup_django()

from django.db import connection, connections  # noqa: E402
from django.db.backends import utils  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import bench_consent_expiry as data  # noqa: E402
from consent import ledger, services  # noqa: E402
from consent.reference_data import ensure_loaded  # noqa: E402
from mindomo import bulk  # noqa: E402
from mindomo.outbox import services as outbox  # noqa: E402

N = int(os.environ.get("N", "100000"))
RUNS = int(os.environ.get("RUNS", "5"))
spent: dict[str, float] = defaultdict(float)
calls: dict[str, int] = defaultdict(int)


def timed(owner: Any, name: str, label: str) -> None:
    if not hasattr(owner, name):
        return
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[label] += time.perf_counter() - started
            calls[label] += 1

    setattr(owner, name, wrapper)


timed(bulk.Batch, "values", "the pseudonyms split and sorted (Batch.values)")
timed(ledger, "batch_event", "the entry's packing and Merkle tree (ledger.batch_event)")
timed(ledger, "packed_batch_event", "the entry from the joined text (ledger.packed_batch_event)")
timed(ledger, "append", "the ledger append, all of it (ledger.append)")
timed(ledger, "_insert", "  of which its INSERT (ledger._insert)")
timed(outbox, "deliveries_forget", "the outbox's own statement (deliveries_forget)")
timed(connections["default"].__class__, "_commit", "the commits")
execute = utils.CursorWrapper.execute


def statement(self: Any, sql: str, params: Any = None) -> Any:
    started = time.perf_counter()
    try:
        return execute(self, sql, params)
    finally:
        if 'DELETE FROM "consent_pendingsignup"' in sql:
            spent["the batch statements (lock and DELETE)"] += time.perf_counter() - started
            calls["the batch statements (lock and DELETE)"] += 1


utils.CursorWrapper.execute = statement  # type: ignore[method-assign,assignment]


def main() -> None:
    ensure_loaded()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_pendingsignup WHERE public_id LIKE %s", [f"{data.MARK}%"])
    data.insert(count=N, tag="keep", age="1 hour")
    parts: dict[str, list[tuple[float, int]]] = defaultdict(list)
    totals = []
    try:
        for _run in range(RUNS):
            data.prepare(N)
            spent.clear()
            calls.clear()
            started = time.perf_counter()
            assert services.pending_signups_expire(now=timezone.now()) == N
            totals.append(time.perf_counter() - started)
            for label, seconds in spent.items():
                parts[label].append((seconds, calls[label]))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM consent_pendingsignup WHERE public_id LIKE %s", [f"{data.MARK}%"])
    print(f"{N:,} due, {RUNS} runs: {statistics.median(totals) * 1000:.1f} ms (median)")
    for label, samples in sorted(parts.items(), key=lambda item: item[0]):
        median = statistics.median(seconds for seconds, _count in samples)
        count = samples[0][1]
        print(f"  {label:60s} {median * 1000:8.1f} ms, {count} calls, {median * 1000 / max(count, 1):.2f} ms each")


if __name__ == "__main__":
    main()
