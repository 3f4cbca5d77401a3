"""Where an erasure's time goes: ``bench_erasure``'s job (the real ``account_erase_now`` against the raw
statements, each on a fresh person built untimed) run in pairs, the erasure's parts timed by wrapping the
functions of the path, medians printed with the pairs' differences and ratios. Not a benchmark of the table
(``bench/run.py`` does not run it): a tool to see which part a change moves.

``PARTS_PAIRS`` pairs (default 21) after three unmeasured ones, the two sides in turn (A B, B A, ...); the sizes
are ``bench_erasure``'s (``BENCH_ERASURE_GRADES=0 BENCH_ERASURE_INVOICES=0``: a person with no rows, where the
fixed costs show). ``python bench/erasure_parts.py`` with the project's environment (DATABASE_URL, REDIS_URL).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import setup_django

setup_django()

from django.db import connections  # noqa: E402

from accounts import emails, services  # noqa: E402
from bench import bench_erasure  # noqa: E402
from mindomo import privacy  # noqa: E402
from mindomo.outbox import services as outbox  # noqa: E402

PAIRS = int(os.environ.get("PARTS_PAIRS", "21"))
WARM = 3
clock = time.perf_counter
events: list[tuple[str, float, float]] = []


def wrap(owner: Any, name: str, label: str) -> None:
    """Record each call of ``owner.name`` as ``(label, start, end)``."""
    original: Callable[..., Any] | None = getattr(owner, name, None)
    if original is None:
        return

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return original(*args, **kwargs)
        finally:
            events.append((label, started, clock()))

    setattr(owner, name, timed)


def spent(label: str, after: float | None = None, before: float | None = None) -> float:
    return sum(
        end - start
        for name, start, end in events
        if name == label and (after is None or start >= after) and (before is None or start < before)
    )


def main() -> None:
    wrap(services, "_erasure_execute", "execute")
    wrap(services, "_erase_at_once", "at_once")
    wrap(privacy, "erase_run", "erase_run")
    wrap(emails, "account_erased_send", "email")
    wrap(emails, "account_erased_statement", "email")  # rendered, its INSERT sent in the erasure's string
    wrap(outbox, "delivery_enqueue", "email_write")
    wrap(outbox, "_publish", "publish")
    database = connections["default"]
    database.ensure_connection()
    wrap(database, "_commit", "commit")

    def read_open(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = clock()
        try:
            return execute(sql, params, many, context)
        finally:
            if "FOR UPDATE" in sql and "accountdeletionrequest" in sql:
                events.append(("read_open", started, clock()))

    source = bench_erasure.jobs()
    job = next(source)
    assert job.prepare_project is not None
    assert job.prepare_baseline is not None
    assert job.baseline is not None
    samples: dict[str, list[float]] = {}

    def add(key: str, seconds: float) -> None:
        samples.setdefault(key, []).append(seconds * 1000)

    try:
        for n in range(WARM + PAIRS):
            for side in ("erase", "raw") if n % 2 == 0 else ("raw", "erase"):
                if side == "raw":
                    job.prepare_baseline()
                    started = clock()
                    job.baseline()
                    if n >= WARM:
                        add("raw statements", clock() - started)
                    continue
                job.prepare_project()
                events.clear()
                with database.execute_wrapper(read_open):
                    started = clock()
                    job.project()
                    finished = clock()
                if n < WARM:
                    continue
                ((_, executing, executed),) = [e for e in events if e[0] == "execute"]
                strings = [(start, end) for name, start, end in events if name == "erase_run" and start >= executing]
                at_once = [start for name, start, _end in events if name == "at_once"]
                add("erasure", finished - started)
                add("opening (to the erasure's transaction)", executing - started)
                add("  its string", spent("erase_run", before=executing))
                add("  the read of an open request", spent("read_open"))
                add("  its commit", spent("commit", before=executing))
                add("binding (to the erasure's string)", strings[0][0] - at_once[0] if strings and at_once else 0.0)
                add("the erasure's string", sum(end - start for start, end in strings))
                add("the email (rendered and written)", spent("email"))
                add("  written", spent("email_write"))
                add("the erasure's commit", spent("commit", after=executing))
                add("the send task published", spent("publish"))
                add("the erasure's transaction", executed - executing)
    finally:
        for _ in source:
            pass
    erasures, raws = samples["erasure"], samples["raw statements"]
    raw = statistics.median(raws)
    print(f"{os.getcwd()}  load {Path('/proc/loadavg').read_text().strip()}")
    print(f"pairs' ratios, median {statistics.median(e / r for e, r in zip(erasures, raws, strict=True)):.2f}x")
    print(f"pairs' differences, median {statistics.median(e - r for e, r in zip(erasures, raws, strict=True)):.2f} ms")
    for key, values in samples.items():
        value = statistics.median(values)
        print(f"{key:42s} {value:7.2f} ms  {value / raw:5.2f}x the raw statements")


if __name__ == "__main__":
    main()
