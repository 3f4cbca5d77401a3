"""Benchmark: streamed grade reports (CSV and XLSX) of one assignment against PostgreSQL's own
``COPY (...) TO STDOUT WITH (FORMAT csv)`` of the same rows, and the XLSX's time to its first byte.

BENCH_REPORT_ROWS sets the report's rows (default 100,000): one class with that many students (inserted
with INSERT ... SELECT generate_series) and one graded assignment. Each report is streamed through the
same generators the download view uses, every byte consumed. Everything created is deleted at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

import datetime  # noqa: E402
from decimal import Decimal  # noqa: E402

from django.db import connection  # noqa: E402

from accounts.models import User  # noqa: E402
from grading import reports  # noqa: E402
from grading.models import Assignment, SchoolClass  # noqa: E402
from schools.models import School, SchoolMembership  # noqa: E402

ROWS = env_int("BENCH_REPORT_ROWS", 100_000)
PREFIX = "bench-grading-"


def build() -> tuple[User, Assignment]:
    school = School.objects.create(name=f"{PREFIX}school", country="US", contact_email="bench@example.com")
    teacher = User.objects.create(username=f"{PREFIX}teacher", password="!")
    SchoolMembership.objects.create(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)
    school_class = SchoolClass.objects.create(school=school, teacher=teacher, name="Bench class")
    assignment = Assignment.objects.create(
        school_class=school_class, title="Large", due_date=datetime.date(2026, 1, 3), max_score=Decimal("20")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined, country, product_updates, language) SELECT '!', false, %s || g, 'Zoë' || g, "
            "'Dupré-' || g, '', false, true, now(), 'US', false, '' FROM generate_series(1, %s) g",
            [PREFIX, ROWS],
        )
        cursor.execute(
            "INSERT INTO grading_enrollment (school_class_id, student_id, number, created_at) "
            "SELECT %s, id, row_number() OVER (ORDER BY id), now() FROM accounts_user WHERE username ~ %s",
            [school_class.pk, f"^{PREFIX}[0-9]+$"],
        )
        cursor.execute(
            "INSERT INTO grading_grade (assignment_id, student_id, score, feedback, graded_by_id, graded_at) "
            "SELECT %s, student_id, number %% 21, CASE WHEN number %% 50 = 0 THEN '=HYPERLINK(\"x\")' "
            "ELSE 'Clear, well argued; check units.' END, %s, now() FROM grading_enrollment WHERE school_class_id = %s",
            [assignment.pk, teacher.pk, school_class.pk],
        )
        cursor.execute("ANALYZE accounts_user; ANALYZE grading_grade; ANALYZE grading_enrollment")
    return teacher, assignment


def cleanup() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM grading_grade WHERE assignment_id IN (SELECT a.id FROM grading_assignment a "
            "JOIN grading_schoolclass c ON c.id = a.school_class_id JOIN accounts_school s ON s.id = c.school_id "
            "WHERE s.name = %s)",
            [f"{PREFIX}school"],
        )
    School.objects.filter(name=f"{PREFIX}school").delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM grading_gradeexport WHERE teacher_id IN (SELECT id FROM accounts_user WHERE username LIKE %s)",
            [f"{PREFIX}%"],
        )
        cursor.execute("DELETE FROM accounts_user WHERE username LIKE %s", [f"{PREFIX}%"])


def jobs() -> Iterator[Job]:
    cleanup()
    print(f"building a class of {ROWS:,} graded students ...", file=sys.stderr, flush=True)
    teacher, assignment = build()
    try:

        def copy() -> None:
            sql = (
                "COPY (SELECT u.last_name, u.first_name, u.username, g.score, a.max_score, g.feedback, "
                "to_char(g.graded_at, 'YYYY-MM-DD HH24:MI') FROM grading_grade g "
                "JOIN accounts_user u ON u.id = g.student_id JOIN grading_assignment a ON a.id = g.assignment_id "
                "WHERE g.assignment_id = %s ORDER BY u.last_name, u.first_name, u.username, g.id) "
                "TO STDOUT WITH (FORMAT csv, HEADER)"
            )
            with connection.cursor() as cursor, cursor.cursor.copy(sql, [assignment.pk]) as stream:
                for _block in stream:
                    pass

        def stream(fmt: str) -> None:
            make = reports.csv_stream if fmt == "csv" else reports.xlsx_stream
            produced = sum(len(c) for c in make(viewer=teacher, assignment=assignment, pseudonymous=False))
            assert produced > ROWS

        yield Job(f"grade report CSV, {ROWS:,} rows", lambda: stream("csv"), copy, goal=1.5, baseline_label="COPY")
        yield Job(f"grade report XLSX, {ROWS:,} rows", lambda: stream("xlsx"), copy, goal=8, baseline_label="COPY")
        yield Job(
            f"grade report XLSX first byte, {ROWS:,} rows",
            lambda: _first_byte(teacher, assignment),
            budget_seconds=1.0,
            goal=1.0,
        )
    finally:
        cleanup()


def _first_byte(teacher: User, assignment: Assignment) -> None:
    """Only the wait for the first chunk is timed (the generator is then closed)."""
    chunks = iter(reports.xlsx_stream(viewer=teacher, assignment=assignment, pseudonymous=False))
    next(chunks)
    close = getattr(chunks, "close", None)
    if close is not None:
        close()


if __name__ == "__main__":
    main(jobs)
