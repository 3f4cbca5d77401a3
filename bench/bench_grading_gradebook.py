"""Benchmark: the gradebook of a class through HTTP (gunicorn, production settings) against the admin login
page on the same server (since staff sign in through allauth, /admin/login/ redirects to allauth's login
page, ``/accounts/login/?next=/admin/``, which is measured).

One class of BENCH_GRADEBOOK_STUDENTS students (default 200) and BENCH_GRADEBOOK_ASSIGNMENTS assignments
(default 30), every cell graded with feedback; the teacher's session is made in the database the server
reads. Each sample is BENCH_HTTP_REQUESTS sequential GETs (default 20) of the page. Goal (issue 15): at least
half the admin login page's requests per second, i.e. a time ratio of at most 2. A second line measures the
floor under every signed-in page in the same run: the teacher's empty export history against the same login page.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.server import get, gunicorn  # noqa: E402
from grading.models import Assignment, Enrollment, Grade, SchoolClass  # noqa: E402
from privacy import services as privacy_services  # noqa: E402
from schools.models import School, SchoolMembership  # noqa: E402

STUDENTS = env_int("BENCH_GRADEBOOK_STUDENTS", 200)
ASSIGNMENTS = env_int("BENCH_GRADEBOOK_ASSIGNMENTS", 30)
REQUESTS = env_int("BENCH_HTTP_REQUESTS", 20)
PREFIX = "bench-gradebook-"


def cleanup() -> None:
    School.objects.filter(name=f"{PREFIX}school").delete()
    User.objects.filter(username__startswith=PREFIX).delete()


def build() -> tuple[User, SchoolClass]:
    school = School.objects.create(name=f"{PREFIX}school", country="US", contact_email="bench@example.com")
    teacher = User.objects.create(username=f"{PREFIX}teacher", first_name="Ada", last_name="Teacher", password="!")
    SchoolMembership.objects.create(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)
    if privacy_services.policy_current() is not None:
        privacy_services.policy_accept(user=teacher)
    school_class = SchoolClass.objects.create(school=school, teacher=teacher, name="Bench 7B")
    students = User.objects.bulk_create(
        [
            User(username=f"{PREFIX}{i}", first_name=f"Zoë{i}", last_name=f"Dupré-{i:03d}", password="!")
            for i in range(STUDENTS)
        ]
    )
    SchoolMembership.objects.bulk_create(
        [SchoolMembership(school=school, user=s, role=SchoolMembership.Role.STUDENT) for s in students]
    )
    Enrollment.objects.bulk_create(
        [Enrollment(school_class=school_class, student=s, number=n) for n, s in enumerate(students, start=1)]
    )
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                school_class=school_class,
                title=f"Essay {n}",
                due_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=n),
                max_score=Decimal("20"),
            )
            for n in range(ASSIGNMENTS)
        ]
    )
    now = timezone.now()
    Grade.objects.bulk_create(
        [
            Grade(
                assignment=a,
                student=s,
                score=Decimal(n % 21),
                feedback="Clear & well argued; check units.",
                graded_by=teacher,
                graded_at=now,
            )
            for a in assignments
            for n, s in enumerate(students)
        ],
        batch_size=5000,
    )
    # the statistics of a database in use (autovacuum's): without the class's and its assignments', PostgreSQL
    # guesses one assignment for the class and plans the grades' read from that
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE grading_grade; ANALYZE grading_enrollment; ANALYZE grading_assignment;"
            " ANALYZE grading_schoolclass; ANALYZE accounts_user"
        )
    return teacher, school_class


def jobs() -> Iterator[Job]:
    cleanup()
    teacher, school_class = build()
    client = Client()
    client.force_login(teacher)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    path = reverse("grading:gradebook", args=[school_class.pk])
    empty = reverse("grading:export_history")
    try:
        with gunicorn() as port:
            size = get(port, path, count=1, cookie=cookie)
            print(f"  gradebook page: {size / 1024:.0f} KiB", file=sys.stderr)
            yield Job(
                f"gradebook {STUDENTS} x {ASSIGNMENTS}, {REQUESTS} GETs",
                lambda: get(port, path, count=REQUESTS, cookie=cookie),
                lambda: get(port, "/accounts/login/?next=/admin/", count=REQUESTS),
                goal=2.0,
                baseline_label="admin login page (allauth)",
            )
            # The floor under any signed-in page: the teacher's (empty) export history, one query of its own.
            yield Job(
                f"the emptiest signed-in page (a teacher's export history), {REQUESTS} GETs",
                lambda: get(port, empty, count=REQUESTS, cookie=cookie),
                lambda: get(port, "/accounts/login/?next=/admin/", count=REQUESTS),
                baseline_label="admin login page (allauth)",
            )
    finally:
        cleanup()


if __name__ == "__main__":
    main(jobs)
