"""Benchmark: the parent's page for one child through HTTP (gunicorn, production settings) against the admin
login page on the same server (allauth's login page, ``/accounts/login/?next=/admin/``, as in the gradebook
benchmark).

One school-registered child with BENCH_PORTAL_GRADES grades (default 500) in one class, one guardian signed in
to the parent portal (the portal session is made in the database the server reads). Each sample is
BENCH_HTTP_REQUESTS sequential GETs (default 20) of the page. Goal (issue 15): at least half the admin login
page's requests per second, i.e. a time ratio of at most 2 (and at most 10 queries:
tests/grading/test_parent_page_queries.py).
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Iterator
from decimal import Decimal
from importlib import import_module
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.server import get, gunicorn  # noqa: E402
from consent.models import ConsentRecord, Guardian  # noqa: E402
from consent.portal.session import SESSION_KEY  # noqa: E402
from consent.services import consent_record_school  # noqa: E402
from grading.models import Assignment, Enrollment, Grade, SchoolClass  # noqa: E402
from schools.models import School, SchoolMembership  # noqa: E402

GRADES = env_int("BENCH_PORTAL_GRADES", 500)
REQUESTS = env_int("BENCH_HTTP_REQUESTS", 20)
PREFIX = "bench-portal-"
PARENT = "bench.portal.parent@example.org"


def cleanup() -> None:
    ConsentRecord.objects.filter(child__username__startswith=PREFIX).delete()
    School.objects.filter(name=f"{PREFIX}school").delete()
    User.objects.filter(username__startswith=PREFIX).delete()


def build() -> User:
    school = School.objects.create(name=f"{PREFIX}school", country="US", contact_email="bench@example.com")
    teacher = User.objects.create(username=f"{PREFIX}teacher", first_name="Ada", last_name="Teacher", password="!")
    SchoolMembership.objects.create(school=school, user=teacher, role=SchoolMembership.Role.ADMIN)
    child = User.objects.create(username=f"{PREFIX}child", first_name="Zoë", last_name="Dupré", password="!")
    SchoolMembership.objects.create(school=school, user=child, role=SchoolMembership.Role.STUDENT)
    with transaction.atomic():
        record = consent_record_school(child=child, school=school, granted_by=teacher)
    Guardian.objects.create(record=record, email=PARENT)
    school_class = SchoolClass.objects.create(school=school, teacher=teacher, name="Bench 7B")
    Enrollment.objects.create(school_class=school_class, student=child, number=1)
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                school_class=school_class,
                title=f"Essay {n}",
                due_date=datetime.date(2026, 1, 1) + datetime.timedelta(days=n % 300),
                max_score=Decimal("20"),
            )
            for n in range(GRADES)
        ]
    )
    now = timezone.now()
    Grade.objects.bulk_create(
        [
            Grade(
                assignment=a,
                student=child,
                score=Decimal(n % 21),
                feedback="Clear & well argued; check units.",
                graded_by=teacher,
                graded_at=now,
            )
            for n, a in enumerate(assignments)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE grading_grade; ANALYZE consent_guardian; ANALYZE consent_consentrecord")
    return child


def _parent_cookie() -> str:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    until = timezone.now() + datetime.timedelta(hours=3)
    store[SESSION_KEY] = {"email": PARENT, "until": until.timestamp()}
    store.save()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"


def jobs() -> Iterator[Job]:
    cleanup()
    child = build()
    cookie = _parent_cookie()
    path = reverse("consent:portal_child", args=[child.pk])
    try:
        with gunicorn() as port:
            size = get(port, path, count=1, cookie=cookie)
            get(port, path, count=REQUESTS, cookie=cookie)  # warm up: the pool's connections, the prepared statement
            print(f"  parent's page: {size / 1024:.0f} KiB", file=sys.stderr)
            yield Job(
                f"parent's page, child with {GRADES} grades, {REQUESTS} GETs",
                lambda: get(port, path, count=REQUESTS, cookie=cookie),
                lambda: get(port, "/accounts/login/?next=/admin/", count=REQUESTS),
                goal=2.0,
                baseline_label="admin login page (allauth)",
            )
    finally:
        cleanup()


if __name__ == "__main__":
    main(jobs)
