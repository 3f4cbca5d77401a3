"""Benchmark: the data export and the erasure pipeline for one heavy user, against the bare registry calls.

Export: ``data_export_build`` (per-provider progress rows, the zip with a JSON per provider and the HTML index)
against ``json.dumps(registry.export_user(user))`` of the same user. Erasure: ``account_erasure_run`` (one
transaction and one recorded step per provider) against ``registry.erase_user(user)`` of an identical user.
BENCH_GRADES sets the grades of each user (default 5,000). Run against a migrated database (make bench, or
DATABASE_URL=... python bench/bench_dsr_pipeline.py). Prints the time of each and the ratio.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.base")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import services  # noqa: E402
from accounts.models import AccountDeletionRequest, DataExport, School, User  # noqa: E402
from grading.models import Assignment, Grade, SchoolClass  # noqa: E402
from mindomo.privacy import registry  # noqa: E402

GRADES = int(os.environ.get("BENCH_GRADES", "5000"))


def heavy_user(tag: str, school_class: SchoolClass, assignments: list[Assignment]) -> User:
    user = User.objects.create(username=f"bench-dsr-{tag}-{uuid.uuid4().hex[:8]}", email="", first_name="Bench")
    now = timezone.now()
    Grade.objects.bulk_create(
        [
            Grade(assignment=a, student=user, score=Decimal("15"), feedback="Steady work", graded_at=now)
            for a in assignments
        ],
        batch_size=2000,
    )
    return user


def main() -> None:
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
        a, b = heavy_user("a", school_class, assignments), heavy_user("b", school_class, assignments)

        started = time.perf_counter()
        baseline_doc = json.dumps(registry.export_user(a), default=str)
        export_baseline = time.perf_counter() - started
        export = DataExport.objects.create(public_id=uuid.uuid4(), user=a)
        started = time.perf_counter()
        services.data_export_build(export_id=export.pk)
        export_pipeline = time.perf_counter() - started
        export.refresh_from_db()
        assert export.state == DataExport.State.READY, export.state

        started = time.perf_counter()
        registry.erase_user(b)
        erase_baseline = time.perf_counter() - started
        deletion = AccountDeletionRequest.objects.create(
            reference=uuid.uuid4(), user=a, reauthenticated_by="bench", erase_after=timezone.now()
        )
        started = time.perf_counter()
        services.account_erasure_run(request_id=deletion.pk)
        erase_pipeline = time.perf_counter() - started
        deletion.refresh_from_db()
        assert deletion.state == AccountDeletionRequest.State.ERASED, deletion.state

        print(f"user with {GRADES} grades, {len(registry.providers())} privacy providers")
        print(
            f"export:  pipeline {export_pipeline * 1000:8.1f} ms (zip {(export.file_size or 0) / 1024:.0f} KiB)  "
            f"baseline json.dumps(export_user) {export_baseline * 1000:8.1f} ms ({len(baseline_doc) / 1024:.0f} KiB)  "
            f"ratio {export_pipeline / export_baseline:.2f}"
        )
        print(
            f"erasure: pipeline {erase_pipeline * 1000:8.1f} ms  baseline registry.erase_user "
            f"{erase_baseline * 1000:8.1f} ms  ratio {erase_pipeline / erase_baseline:.2f}"
        )
    finally:
        school.delete()
        User.objects.filter(username__startswith="bench-dsr-").delete()
        AccountDeletionRequest.objects.filter(reauthenticated_by="bench").delete()
        media.cleanup()


if __name__ == "__main__":
    main()
