"""Benchmark: the data export for one heavy user, against the bare registry calls.

Export: ``data_export_build`` (per-provider progress rows, the zip with a JSON per provider and the HTML
index) against ``json.dumps(registry.export_user(user))`` of the same user. BENCH_DSR_GRADES sets the user's
grades (default 10,000). The erasure is measured once, in ``bench_erasure.py`` (the real path,
``account_erase_now``, against the raw statements).
"""

from __future__ import annotations

import datetime
import json
import sys
import tempfile
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import DataExport, User  # noqa: E402
from grading.models import Assignment, Grade, SchoolClass  # noqa: E402
from mindomo.privacy import registry  # noqa: E402
from schools.models import School  # noqa: E402

GRADES = env_int("BENCH_DSR_GRADES", 10_000)


def heavy_user(assignments: list[Assignment]) -> User:
    user = User.objects.create(username=f"bench-dsr-{uuid.uuid4().hex[:12]}", email="", first_name="Bench")
    now = timezone.now()
    Grade.objects.bulk_create(
        [
            Grade(assignment=a, student=user, score=Decimal("15"), feedback="Steady work", graded_at=now)
            for a in assignments
        ],
        batch_size=2000,
    )
    return user


def jobs() -> Iterator[Job]:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    mail.outbox = []
    media = tempfile.TemporaryDirectory()
    settings.MEDIA_ROOT = media.name
    school = School.objects.create(name="Bench school", country="FR", contact_email="bench@school.example")
    try:
        school_class = SchoolClass.objects.create(school=school, name="Bench class")
        assignments = Assignment.objects.bulk_create(
            [
                Assignment(school_class=school_class, title=f"A{i}", due_date=datetime.date(2026, 1, 1), max_score=20)
                for i in range(GRADES)
            ],
            batch_size=2000,
        )
        exported = heavy_user(assignments)

        def export_pipeline() -> None:
            export = DataExport.objects.create(public_id=uuid.uuid4(), user=exported)
            services.data_export_build(export_id=export.pk)
            export.refresh_from_db()
            assert export.state == DataExport.State.READY, export.state
            export.delete()

        def export_baseline() -> None:
            json.dumps(registry.export_user(exported), default=str)

        yield Job(
            f"data export, {GRADES:,} grades",
            export_pipeline,
            export_baseline,
            baseline_label="json.dumps(export_user)",
        )
    finally:
        school.delete()
        User.objects.filter(username__startswith="bench-dsr-").delete()
        media.cleanup()


if __name__ == "__main__":
    main(jobs)
