"""``make bench``: every benchmark module's jobs, measured interleaved, printed as one table.

Progress and the samples of each job go to stderr; the table (job, project, baseline, ratio, goal, met) to
stdout. ``BENCH_ONLY=grading,lookup`` runs only the modules whose file name contains one of the words; sizes
are set by each module's environment variables (see its docstring), ``BENCH_PAIRS`` the A/B pairs (>= 3).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import run, setup_django, table

setup_django()


def main() -> None:
    words = [w.strip() for w in os.environ.get("BENCH_ONLY", "").split(",") if w.strip()]
    names = sorted(p.stem for p in Path(__file__).resolve().parent.glob("bench_*.py"))
    chosen = [n for n in names if not words or any(w in n for w in words)]
    if not chosen:
        sys.exit(f"BENCH_ONLY={os.environ['BENCH_ONLY']} matches none of {', '.join(names)}")
    modules = [importlib.import_module(f"bench.{name}") for name in chosen]
    print(table(run([m.jobs for m in modules])))


if __name__ == "__main__":
    main()
