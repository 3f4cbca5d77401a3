"""Benchmark: streaming grade reports (CSV, and XLSX through openpyxl's write-only mode) of 30 to 100,000 rows.

Run against a migrated database (make bench, or DATABASE_URL=... python bench/bench_grading_export.py).
BENCH_ROWS sets the large report's rows (default 100,000). Builds one class with that many students and
three assignments (30, 10,000 and BENCH_ROWS grades), streams each report through the same generators the
download view uses, and prints rows per second and the peak Python memory (tracemalloc) of each run. Memory
must stay flat from 30 to BENCH_ROWS rows: it is bounded by one fetch chunk (2,000 rows), reached by 10,000.
The baseline is PostgreSQL's own COPY ... TO STDOUT (CSV) of the same rows. Everything created is deleted.
"""

from __future__ import annotations

import datetime
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.base")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import School, SchoolMembership, User  # noqa: E402
from grading import reports  # noqa: E402
from grading.models import Assignment, Enrollment, Grade, SchoolClass  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
SMALL = 30
MID = min(10_000, ROWS)  # above the fetch chunk (2,000 rows): from here on, memory must not grow
BATCH = 10_000
PREFIX = "bench-grading-"


def build() -> tuple[User, Assignment, Assignment, Assignment, School]:
    school = School.objects.create(name=f"{PREFIX}school", country="US", contact_email="bench@example.com")
    teacher = User.objects.create(username=f"{PREFIX}teacher", password="!")
    SchoolMembership.objects.create(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)
    school_class = SchoolClass.objects.create(school=school, teacher=teacher, name="Bench class")
    small = Assignment.objects.create(
        school_class=school_class, title="Small", due_date=datetime.date(2026, 1, 1), max_score=Decimal("20")
    )
    mid = Assignment.objects.create(
        school_class=school_class, title="Mid", due_date=datetime.date(2026, 1, 2), max_score=Decimal("20")
    )
    large = Assignment.objects.create(
        school_class=school_class, title="Large", due_date=datetime.date(2026, 1, 3), max_score=Decimal("20")
    )
    now = timezone.now()
    for start in range(0, ROWS, BATCH):
        with transaction.atomic():
            users = User.objects.bulk_create(
                [
                    User(username=f"{PREFIX}{i}", first_name=f"Zoë{i}", last_name=f"Dupré-{i}", password="!")
                    for i in range(start, min(start + BATCH, ROWS))
                ]
            )
            Enrollment.objects.bulk_create(
                [Enrollment(school_class=school_class, student=u, number=start + n + 1) for n, u in enumerate(users)]
            )
            grades = [
                Grade(
                    assignment=large,
                    student=u,
                    score=Decimal(n % 21),
                    feedback="Clear, well argued; check units.",
                    graded_by=teacher,
                    graded_at=now,
                )
                for n, u in enumerate(users)
            ]
            if start == 0:
                grades += [
                    Grade(assignment=small, student=u, score=Decimal(7), graded_by=teacher, graded_at=now)
                    for u in users[:SMALL]
                ]
            grades += [
                Grade(assignment=mid, student=u, score=Decimal(9), feedback="Good.", graded_by=teacher, graded_at=now)
                for n, u in enumerate(users)
                if start + n < MID
            ]
            Grade.objects.bulk_create(grades)
    return teacher, small, mid, large, school


def measure(stream: Callable[[], Iterator[str] | Iterator[bytes]]) -> tuple[float, int, int]:
    """(seconds, peak Python memory in bytes, bytes produced) of one report stream.

    Two passes: one timed, one under tracemalloc (which slows allocation-heavy code such as openpyxl's
    XML writer several times over, so it must not be in the timed pass).
    """
    started = time.perf_counter()
    produced = sum(len(chunk) for chunk in stream())
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    for _chunk in stream():
        pass
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, produced


def copy_baseline(assignment: Assignment) -> float:
    started = time.perf_counter()
    sql = (
        "COPY (SELECT u.last_name, u.first_name, u.username, g.score, a.max_score, g.feedback, g.graded_at "
        "FROM grading_grade g JOIN accounts_user u ON u.id = g.student_id "
        "JOIN grading_assignment a ON a.id = g.assignment_id WHERE g.assignment_id = %s "
        "ORDER BY u.last_name, u.first_name, u.username, g.id) TO STDOUT WITH (FORMAT csv)"
    )
    with connection.cursor() as cursor, cursor.cursor.copy(sql, [assignment.pk]) as copy:
        for _block in copy:
            pass
    return time.perf_counter() - started


def cleanup() -> None:
    School.objects.filter(name=f"{PREFIX}school").delete()
    while True:
        ids = list(User.objects.filter(username__startswith=PREFIX).values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        User.objects.filter(pk__in=ids).delete()


def main() -> None:
    cleanup()
    print(f"building a class of {ROWS:,} students ...", flush=True)
    teacher, small, mid, large, _school = build()
    connection.close()
    results = []
    try:
        for assignment, rows in ((small, SMALL), (mid, MID), (large, ROWS)):
            for fmt, make in (("csv", reports.csv_stream), ("xlsx", reports.xlsx_stream)):
                elapsed, peak, produced = measure(
                    partial(make, viewer=teacher, assignment=assignment, pseudonymous=False)
                )
                results.append((fmt, rows, elapsed, peak, produced))
                print(
                    f"{fmt:4} {rows:>8,} rows  {elapsed:7.2f} s  {rows / elapsed:>10,.0f} rows/s  "
                    f"peak Python memory {peak / 2**20:6.1f} MiB  output {produced / 2**20:7.1f} MiB",
                    flush=True,
                )
        baseline = copy_baseline(large)
        print(f"baseline: COPY ... TO STDOUT (CSV) of {ROWS:,} rows  {baseline:.2f} s  {ROWS / baseline:,.0f} rows/s")
        for fmt in ("csv", "xlsx"):
            [(_f, _r, _s, mid_peak, _p)] = [r for r in results if r[0] == fmt and r[1] == MID]
            [(_f, _r, large_s, large_peak, _p)] = [r for r in results if r[0] == fmt and r[1] == ROWS]
            print(
                f"{fmt}: {ROWS / large_s / (ROWS / baseline):.3f}x the throughput of COPY; peak memory at "
                f"{ROWS:,} rows is {large_peak / max(mid_peak, 1):.2f}x the peak at {MID:,} rows "
                f"(below {MID:,} rows a report is smaller than one fetch chunk)"
            )
    finally:
        cleanup()


if __name__ == "__main__":
    main()
