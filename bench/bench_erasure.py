"""Benchmark: erasing one user at once through the real path (``accounts.services.account_erase_now``: the
request, every registered provider's erase with its step states, the confirmation email into the outbox)
against the raw statements that remove the same rows in one transaction.

Before each sample, untimed, a fresh user is built with BENCH_ERASURE_GRADES grades (default 10,000),
BENCH_ERASURE_INVOICES invoices (default 100), an email address and two sign-in sessions. The raw side: DELETE
the grades, the sessions, the email address and the user, and detach the invoices (UPDATE ... SET user_id =
NULL), as the erasure does.

Celery is not eager here: as in production, the erasure puts its confirmation email into the outbox and
publishes the send task to the broker (``REDIS_URL``'s database); the mail worker's sending is not part of the
erasure, so it is not timed (the benchmark's deliveries and their task messages are removed afterwards).
"""

from __future__ import annotations

import datetime
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from allauth.account.models import EmailAddress  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import AccountDeletionRequest, User, UserSession  # noqa: E402
from billing.models import Invoice  # noqa: E402
from grading.models import Assignment, Grade, SchoolClass  # noqa: E402
from mindomo.outbox.models import Delivery  # noqa: E402
from schools.models import School  # noqa: E402

GRADES = env_int("BENCH_ERASURE_GRADES", 10_000)
INVOICES = env_int("BENCH_ERASURE_INVOICES", 100)
SERIES = "BER"


def build(assignments: list[Assignment]) -> User:
    tag = uuid.uuid4().hex[:12]
    user = User.objects.create(username=f"bench-erase-{tag}", email=f"bench-erase-{tag}@example.com", first_name="B")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    now = timezone.now()
    for n in range(2):
        UserSession.objects.create(
            session_key=f"bench{tag}{n}",
            session_data="x",
            expire_date=now + datetime.timedelta(days=1),
            user_id=user.pk,
        )
    Grade.objects.bulk_create(
        [Grade(assignment=a, student=user, score=Decimal("15"), feedback="Steady", graded_at=now) for a in assignments],
        batch_size=5000,
    )
    base = Invoice.objects.filter(series=SERIES).count()
    Invoice.objects.bulk_create(
        [
            Invoice(
                kind=Invoice.Kind.INVOICE,
                series=SERIES,
                year=now.year,
                sequence=base + i,
                number=f"{SERIES}-{now.year}-{base + i:07d}",
                issued_at=now,
                user=user,
                seller={"name": "Bench"},
                buyer_account_name="B",
                buyer_email=user.email,
                billing_full_name="B",
                billing_country="FR",
                billing_address="1 rue",
                billing_city="Paris",
                billing_postal_code="75001",
                lines=[],
                currency="EUR",
                net_amount=Decimal("50.00"),
                vat_rate=Decimal("20.00"),
                vat_amount=Decimal("10.00"),
                total=Decimal("60.00"),
                gateway="braintree",
            )
            for i in range(INVOICES)
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE grading_grade")
    return user


def jobs() -> Iterator[Job]:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    eager = settings.CELERY_TASK_ALWAYS_EAGER
    settings.CELERY_TASK_ALWAYS_EAGER = False
    mail.outbox = []
    school = School.objects.create(name="Bench erasure school", country="FR", contact_email="bench@school.example")
    victim: list[User] = []
    try:
        school_class = SchoolClass.objects.create(school=school, name="Bench erasure class")
        assignments = Assignment.objects.bulk_create(
            [
                Assignment(school_class=school_class, title=f"A{i}", due_date=datetime.date(2026, 1, 1), max_score=20)
                for i in range(GRADES)
            ],
            batch_size=5000,
        )

        def fresh() -> None:
            victim[:] = [build(assignments)]

        def erase() -> None:
            deletion = services.account_erase_now(user=victim[0], requested_by="bench", reason="bench")
            assert deletion.state == AccountDeletionRequest.State.ERASED, deletion.state

        def raw() -> None:
            pk = victim[0].pk
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("DELETE FROM grading_grade WHERE student_id = %s", [pk])
                cursor.execute("UPDATE billing_invoice SET user_id = NULL WHERE user_id = %s", [pk])
                cursor.execute("DELETE FROM accounts_usersession WHERE user_id = %s", [pk])
                cursor.execute("DELETE FROM account_emailaddress WHERE user_id = %s", [pk])
                cursor.execute("DELETE FROM accounts_user WHERE id = %s", [pk])

        yield Job(
            f"erase one user now, {GRADES:,} grades, {INVOICES} invoices",
            erase,
            raw,
            goal=2,
            prepare_project=fresh,
            prepare_baseline=fresh,
            baseline_label="the raw statements",
        )
    finally:
        settings.CELERY_TASK_ALWAYS_EAGER = eager
        school.delete()
        Invoice.objects.filter(series=SERIES).delete()
        User.objects.filter(username__startswith="bench-erase-").delete()
        AccountDeletionRequest.objects.filter(reauthenticated_by="bench").delete()
        # the confirmation emails never sent: without their rows, the send tasks left on the broker do nothing
        Delivery.objects.filter(to_email__startswith="bench-erase-").delete()


if __name__ == "__main__":
    main(jobs)
