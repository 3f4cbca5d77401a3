"""The benchmark harness: a job and its baseline measured interleaved, medians, one table.

Each ``bench/bench_*.py`` module defines ``jobs()``, a generator that builds its data, yields ``Job``s and
cleans up when exhausted (``finally``). ``measure`` runs project and baseline alternately (A B A B ...,
``BENCH_PAIRS`` pairs, default 3), each after its own untimed ``prepare`` step so both sides see the same
data and the same indexes, and reports the medians. The ratio is always *project time / baseline time*
(a job 157 times slower than its baseline prints ``157x``, never ``0.01``); a goal is the highest ratio
allowed. ``python bench/run.py`` (``make bench``) prints one table of every job; running one module
(``python bench/bench_x.py``) prints the table of its own jobs.

Every size has an environment variable with a default that keeps the whole run to a few minutes on a
2-core machine; ``BENCH_ONLY=grading,lookup`` runs only the modules whose name contains one of the words.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAIRS = max(3, int(os.environ.get("BENCH_PAIRS", "3")))


def setup_django() -> None:
    """Import Django for a benchmark script run from anywhere (``python bench/bench_x.py``)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")
    import django

    django.setup()


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass
class Job:
    """One line of the table: ``project`` against ``baseline`` (or against a fixed budget in seconds).

    ``goal`` is the highest ratio project/baseline the issue allows (None: measured, no goal). The
    ``prepare_*`` callables run before each timed call, untimed (rebuild the rows a DELETE removed).
    """

    name: str
    project: Callable[[], Any]
    baseline: Callable[[], Any] | None = None
    goal: float | None = None
    prepare_project: Callable[[], Any] | None = None
    prepare_baseline: Callable[[], Any] | None = None
    budget_seconds: float | None = None  # instead of a baseline: the goal is a time (e.g. first byte < 1 s)
    baseline_label: str = ""
    note: str = ""
    pairs: int = PAIRS
    # what a sample measures: wall time by default; e.g. a server process's CPU seconds (bench/server.py)
    clock: Callable[[], float] = time.perf_counter


@dataclass
class Result:
    job: Job
    project_seconds: float
    baseline_seconds: float
    project_samples: list[float] = field(default_factory=list)
    baseline_samples: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.project_seconds / self.baseline_seconds

    @property
    def met(self) -> bool | None:
        return None if self.job.goal is None else self.ratio <= self.job.goal


def _timed(prepare: Callable[[], Any] | None, call: Callable[[], Any], clock: Callable[[], float]) -> float:
    if prepare is not None:
        prepare()
    started = clock()
    call()
    return clock() - started


def measure(job: Job) -> Result:
    """Interleave project and baseline (A B A B ...), ``job.pairs`` pairs; the medians of each."""
    project: list[float] = []
    baseline: list[float] = []
    for _pair in range(job.pairs):
        project.append(_timed(job.prepare_project, job.project, job.clock))
        if job.baseline is not None:
            baseline.append(_timed(job.prepare_baseline, job.baseline, job.clock))
    if job.baseline is None:
        assert job.budget_seconds is not None, f"{job.name}: a job needs a baseline or a budget"
        baseline = [job.budget_seconds]
    result = Result(job, statistics.median(project), statistics.median(baseline), project, baseline)
    print(
        f"  {job.name}: project {_fmt(result.project_seconds)} (samples {', '.join(_fmt(s) for s in project)}), "
        f"baseline {_fmt(result.baseline_seconds)}, ratio {result.ratio:.2f}x",
        file=sys.stderr,
        flush=True,
    )
    return result


def _fmt(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms"


def _goal(job: Job) -> str:
    if job.goal is None:
        return "-"
    if job.budget_seconds is not None:
        return f"<= {_fmt(job.budget_seconds * job.goal)}"
    return f"<= {job.goal:g}x"


def table(results: Iterable[Result]) -> str:
    """The one table: job, project, baseline, ratio (project time / baseline time), goal, met."""
    rows = [("job", "project", "baseline", "ratio", "goal", "met")]
    for r in results:
        baseline = _fmt(r.baseline_seconds)
        if r.job.budget_seconds is not None:
            baseline = f"{baseline} (budget)"
        elif r.job.baseline_label:
            baseline = f"{baseline} ({r.job.baseline_label})"
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        rows.append((r.job.name, _fmt(r.project_seconds), baseline, f"{r.ratio:.2f}x", _goal(r.job), met))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def run(job_sources: Iterable[Callable[[], Iterator[Job]]]) -> list[Result]:
    results = []
    for source in job_sources:
        print(f"{source.__module__}:", file=sys.stderr, flush=True)
        for job in source():
            results.append(measure(job))
    return results


def main(jobs: Callable[[], Iterator[Job]]) -> None:
    """Entry point of one benchmark module run on its own."""
    print(table(run([jobs])))
