"""Benchmark: the requests that start background jobs stay small (issue 15, "Work off the request": no request does
more than about 1 s of CPU). Through HTTP (gunicorn, production settings, one sync worker: bench/server.py):

- the time to the response of the request that asks for a job (a 100,000-row XLSX grade report; a buyer's
  BENCH_JOBS_INVOICES invoices as one zip of PDFs, default 200) against Django's admin login page on the same
  server (allauth's, where /admin/login/ redirects), BENCH_HTTP_REQUESTS requests each (default 20). Each ask
  finds no file in preparation (the previous ask's row is deleted first, on both sides), so every one writes its
  row and publishes the job's message to the broker (no worker consumes it; the queues are emptied at the end);
- the CPU seconds of one request in the gunicorn worker (``/proc``; 10 ms resolution) against the budget of 1 s:
  asking for the XLSX job, asking for the invoices' zip, the CSV of 100,000 rows (streamed: PostgreSQL's COPY writes
  it, the worker only passes its chunks on) and the largest XLSX still streamed (REPORT_INLINE_MAX_ROWS rows).

BENCH_REPORT_ROWS sets the report's rows (default 100,000; the class of bench_grading_export). Everything created
is deleted at the end.
"""

from __future__ import annotations

import datetime
import secrets
import sys
from collections.abc import Callable, Iterator
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
from bench import bench_grading_export as report_data  # noqa: E402
from bench.server import get, gunicorn, post, worker_cpu_seconds  # noqa: E402
from billing.models import Gateway, Invoice  # noqa: E402
from grading import services as grading_services  # noqa: E402
from grading.models import Assignment, SchoolClass  # noqa: E402
from mindomo.celery import app as celery_app  # noqa: E402
from mindomo.downloads.models import PreparedFile  # noqa: E402
from privacy import services as privacy_services  # noqa: E402
from schools.models import SchoolMembership  # noqa: E402

INVOICES = env_int("BENCH_JOBS_INVOICES", 200)
REQUESTS = env_int("BENCH_HTTP_REQUESTS", 20)
PREFIX = "bench-jobs-"
LOGIN = "/accounts/login/?next=/admin/"


def _buyer() -> User:
    buyer = User.objects.create(username=f"{PREFIX}buyer", email=f"{PREFIX}buyer@example.com", password="!")
    year = timezone.now().year
    seller = {"name": "Mindomo SRL", "address": "Str. Exemplu 1, Cluj-Napoca", "vat_id": "RO123", "email": "x@y.z"}
    Invoice.objects.bulk_create(
        [
            Invoice(
                series="BNC",
                year=year,
                sequence=n,
                number=f"BNC-{year}-{n:06d}",
                issued_at=timezone.now() - datetime.timedelta(days=n),
                user=buyer,
                seller=seller,
                buyer_account_name="Zoë Dupré",
                buyer_email=buyer.email,
                billing_full_name="Zoë Éléonore Dupré",
                billing_country="FR",
                billing_address="1 rue de la Paix",
                billing_city="Besançon",
                billing_postal_code="25000",
                billing_phone="+33 1 23 45 67 89",
                lines=[{"description": "Premium, 1 year", "quantity": 1, "amount": "50.00"}],
                currency="EUR",
                net_amount=Decimal("50.00"),
                vat_rate=Decimal("20.00"),
                vat_amount=Decimal("10.00"),
                total=Decimal("60.00"),
                gateway=Gateway.BRAINTREE,
            )
            for n in range(1, INVOICES + 1)
        ]
    )
    return buyer


def _inline_assignment(big: Assignment) -> Assignment:
    """A second assignment of the class graded for REPORT_INLINE_MAX_ROWS students: the largest XLSX streamed."""
    inline = Assignment.objects.create(
        school_class=big.school_class, title="Inline", due_date=big.due_date, max_score=big.max_score
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO grading_grade (assignment_id, student_id, score, feedback, graded_by_id, graded_at) "
            "SELECT %s, student_id, score, feedback, graded_by_id, graded_at FROM grading_grade "
            "WHERE assignment_id = %s ORDER BY student_id LIMIT %s",
            [inline.pk, big.pk, settings.REPORT_INLINE_MAX_ROWS],
        )
        cursor.execute("ANALYZE grading_grade")
    return inline


def _signed_in(user: User) -> str:
    if privacy_services.policy_current() is not None:
        privacy_services.policy_accept(user=user)
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _teacher(assignment: Assignment) -> User:
    """Our own signed-in teacher for the report's class (the class's users are deleted by raw SQL at the end)."""
    teacher = User.objects.create(username=f"{PREFIX}teacher", password="!")
    school_class = assignment.school_class
    SchoolMembership.objects.create(school_id=school_class.school_id, user=teacher, role=SchoolMembership.Role.TEACHER)
    SchoolClass.objects.filter(pk=school_class.pk).update(teacher=teacher)
    grading_services.report_notice_acknowledge(teacher=teacher)
    return teacher


def cleanup() -> None:
    PreparedFile.objects.filter(user__username__startswith=PREFIX).delete()
    Invoice.objects.filter(series="BNC", user__username__startswith=PREFIX).delete()
    report_data.cleanup()
    User.objects.filter(username__startswith=PREFIX).delete()


def _forget_asks(user: User) -> Callable[[], None]:
    def forget() -> None:
        PreparedFile.objects.filter(user=user).delete()

    return forget


def jobs() -> Iterator[Job]:
    cleanup()
    print(f"building a class of {report_data.ROWS:,} graded students and {INVOICES} invoices ...", file=sys.stderr)
    _graders, assignment = report_data.build()
    teacher = _teacher(assignment)
    inline = _inline_assignment(assignment)
    buyer = _buyer()
    teacher_cookie, buyer_cookie = _signed_in(teacher), _signed_in(buyer)
    csrf = secrets.token_hex(16)
    prepare_url = reverse("grading:assignment_prepare", args=[assignment.pk])
    zip_url = reverse("billing:invoice_zip")
    csv_url = reverse("grading:assignment_download", args=[assignment.pk, "csv"])
    inline_url = reverse("grading:assignment_download", args=[inline.pk, "xlsx"])
    forget_teacher, forget_buyer = _forget_asks(teacher), _forget_asks(buyer)

    def ask(url: str, cookie: str, forget: Callable[[], None], count: int) -> None:
        for _ in range(count):
            forget()
            assert "/files/" in post(port, url, cookie=cookie, csrf_token=csrf)

    def login(forget: Callable[[], None], count: int) -> None:
        for _ in range(count):
            forget()
            get(port, LOGIN, count=1)

    try:
        with gunicorn() as port:
            yield Job(
                f"ask for an XLSX report job, {report_data.ROWS:,} rows: {REQUESTS} POSTs",
                lambda: ask(prepare_url, teacher_cookie, forget_teacher, REQUESTS),
                lambda: login(forget_teacher, REQUESTS),
                baseline_label="admin login page (allauth)",
            )
            yield Job(
                f"ask for the invoices' zip job, {INVOICES} invoices: {REQUESTS} POSTs",
                lambda: ask(zip_url, buyer_cookie, forget_buyer, REQUESTS),
                lambda: login(forget_buyer, REQUESTS),
                baseline_label="admin login page (allauth)",
            )
            cpu = {"budget_seconds": 1.0, "goal": 1.0, "clock": worker_cpu_seconds}
            yield Job(
                f"worker CPU of one request: ask for the XLSX job, {report_data.ROWS:,} rows",
                lambda: ask(prepare_url, teacher_cookie, forget_teacher, 1),
                **cpu,  # type: ignore[arg-type]
            )
            yield Job(
                f"worker CPU of one request: ask for the invoices' zip, {INVOICES} invoices",
                lambda: ask(zip_url, buyer_cookie, forget_buyer, 1),
                **cpu,  # type: ignore[arg-type]
            )
            yield Job(
                f"worker CPU of one request: CSV streamed, {report_data.ROWS:,} rows",
                lambda: get(port, csv_url, count=1, cookie=teacher_cookie),
                **cpu,  # type: ignore[arg-type]
            )
            yield Job(
                f"worker CPU of one request: XLSX streamed, {settings.REPORT_INLINE_MAX_ROWS:,} rows (the threshold)",
                lambda: get(port, inline_url, count=1, cookie=teacher_cookie),
                **cpu,  # type: ignore[arg-type]
            )
    finally:
        celery_app.control.purge()  # the jobs' messages nobody consumed
        cleanup()


if __name__ == "__main__":
    main(jobs)
