"""A big roster import runs as a Celery job on the session's real worker, with its progress on the page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import task_postrun
from django.urls import reverse

from schools import roster
from schools.models import RosteredPerson, RosterImport
from schools.oneroster_sample import SampleClass, SampleEnrollment, SampleUser
from tests.schools.conftest import SchoolWorld, roster_zip

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]
TASK = "schools.tasks.roster_import_task"


@pytest.fixture
def finished() -> Iterator[threading.Event]:
    done = threading.Event()

    def receiver(sender: Any = None, **kwargs: Any) -> None:
        if sender.name == TASK:
            done.set()

    task_postrun.connect(receiver, weak=False)
    yield done
    task_postrun.disconnect(receiver)


def test_the_worker_imports_with_progress(
    sw: SchoolWorld, real_celery_worker: Any, finished: threading.Event, monkeypatch: Any
) -> None:
    students = [SampleUser(f"s-{i}", "student", f"Student{i}", f"Family{i}") for i in range(450)]
    enrollments = [SampleEnrollment(f"e-{i}", "c-1", f"s-{i}") for i in range(450)]
    data = roster_zip(users=students, classes=[SampleClass("c-1", "Maths")], enrollments=enrollments)
    seen: list[dict[str, Any]] = []
    original = roster._progress

    def recording(import_id: int, done: int, total: int, state: str) -> None:
        original(import_id, done, total, state)
        seen.append(roster.roster_progress(import_id=import_id))

    monkeypatch.setattr(roster, "_progress", recording)
    monkeypatch.setattr(roster, "IMPORT_BATCH", 200)  # the worker is a thread of this process
    roster_import = roster.roster_preview(actor=sw.admin, school=sw.school, upload=[data], size=len(data))
    page = reverse("schools:roster_import", args=[sw.school.pk, roster_import.pk])
    response = sw.client(sw.admin).post(page, {})
    assert response.status_code == 302

    assert finished.wait(60)
    roster_import.refresh_from_db()
    assert roster_import.state == RosterImport.State.DONE
    assert RosteredPerson.objects.filter(school=sw.school).count() == 450
    running = [p for p in seen if p["state"] == "running" and p["total"]]
    assert [p["done"] for p in running] == sorted(p["done"] for p in running)  # it only moves forward
    assert {200, 400, 450} <= {p["done"] for p in running}  # one step per batch of 200 students
    assert seen[-1]["state"] == "done"
    assert "The roster was imported." in sw.client(sw.admin).get(page).content.decode()


def test_the_page_of_a_queued_import_refreshes_itself(sw: SchoolWorld) -> None:
    data = roster_zip()
    roster_import = roster.roster_preview(actor=sw.admin, school=sw.school, upload=[data], size=len(data))
    roster.roster_import_start(actor=sw.admin, roster_import=roster_import, confirm_erase=False, queue=False)
    html = sw.client(sw.admin).get(reverse("schools:roster_import", args=[sw.school.pk, roster_import.pk])).content
    assert b'http-equiv="refresh"' in html
    assert b"Waiting for the import to start" in html


def test_an_import_whose_worker_died_is_queued_again_by_beat_and_the_worker_finishes_it(
    sw: SchoolWorld, real_celery_worker: Any, finished: threading.Event, settings: Any
) -> None:
    import datetime

    from django.core.cache import cache
    from django.utils import timezone

    from consent.models import ConsentRecord

    data = roster_zip()
    roster_import = roster.roster_preview(actor=sw.admin, school=sw.school, upload=[data], size=len(data))
    roster.roster_import_start(actor=sw.admin, roster_import=roster_import, confirm_erase=False, queue=False)
    # a worker took it and died before its transaction committed: running, no sign of life since
    past = timezone.now() - datetime.timedelta(seconds=settings.ROSTER_IMPORT_STALL_SECONDS + 1)
    RosterImport.objects.filter(pk=roster_import.pk).update(
        state=RosterImport.State.RUNNING, heartbeat_at=past, attempts=1
    )
    key = f"schools:roster-import:{roster_import.pk}"
    cache.set(key, {**roster.roster_progress(import_id=roster_import.pk), "at": past.timestamp()})

    assert roster.roster_imports_resume() == 1  # the task goes to the worker through Redis
    assert finished.wait(60)
    roster_import.refresh_from_db()
    assert (roster_import.state, roster_import.attempts) == (RosterImport.State.DONE, 2)
    students = RosteredPerson.objects.filter(school=sw.school, role="student").values_list("user_id", flat=True)
    assert len(students) == 4
    assert ConsentRecord.objects.filter(child_id__in=list(students)).count() == 4
    assert roster.roster_imports_resume() == 0
