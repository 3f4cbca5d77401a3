"""An import whose worker died is not "Importing" for ever: it shows as interrupted, and running it again (the
administrator's "Try again", beat's resume, a redelivered task message) imports exactly what an uninterrupted
import would, once."""

from __future__ import annotations

import datetime
from typing import Any

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from consent import ledger
from consent.models import ConsentRecord, Guardian, LedgerEntry
from grading.models import Enrollment
from mindomo.outbox.models import Delivery
from schools import roster
from schools.models import RosteredPerson, RosterImport, SchoolMembership, SchoolStudentAccount
from schools.tasks import roster_import_task
from tests.schools.conftest import ENROLLMENTS, GUARDIANS, STAFF, STUDENTS, SchoolWorld, roster_zip


class WorkerKilled(BaseException):
    """The worker process dying mid-job: nothing after it runs, the transaction is rolled back."""


def _queued(sw: SchoolWorld, data: bytes, *, confirm_erase: bool = False) -> RosterImport:
    roster_import = roster.roster_preview(actor=sw.admin, school=sw.school, upload=[data], size=len(data))
    assert roster_import.state == RosterImport.State.PREVIEWED, roster_import.summary
    roster.roster_import_start(actor=sw.admin, roster_import=roster_import, confirm_erase=confirm_erase, queue=False)
    return roster_import


def _killed_in(monkeypatch: Any, target: Any, name: str) -> None:
    """The worker dies the first time ``target.name`` is called, after what it wrote so far."""
    original = getattr(target, name)

    def dying(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(target, name, original)
        original(*args, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(target, name, dying)


def _stall(roster_import: RosterImport, settings: Any) -> None:
    """Time passes with no sign of life from the dead worker."""
    past = timezone.now() - datetime.timedelta(seconds=settings.ROSTER_IMPORT_STALL_SECONDS + 1)
    RosterImport.objects.filter(pk=roster_import.pk).update(heartbeat_at=past)
    key = f"schools:roster-import:{roster_import.pk}"
    cache.set(key, {**roster.roster_progress(import_id=roster_import.pk), "at": past.timestamp()})
    roster_import.refresh_from_db()


def _snapshot(sw: SchoolWorld) -> dict[str, Any]:
    """Everything the import writes, as an uninterrupted import leaves it."""
    students = User.objects.filter(school_student_account__school=sw.school)
    return {
        "students": sorted(students.values_list("username", "first_name", "last_name")),
        "memberships": SchoolMembership.objects.filter(school=sw.school).count(),
        "registered": SchoolStudentAccount.objects.filter(school=sw.school).count(),
        "rostered": sorted(RosteredPerson.objects.filter(school=sw.school).values_list("sourced_id", "role")),
        "consents": ConsentRecord.objects.filter(child__in=students).count(),
        "guardians": sorted(Guardian.objects.filter(record__child__in=students).values_list("email", flat=True)),
        "enrolments": sorted(
            Enrollment.objects.filter(school_class__school=sw.school).values_list(
                "school_class__name", "student__username"
            )
        ),
        "emails": sorted(
            Delivery.objects.filter(kind="consent.school_guardian_added").values_list("to_email", flat=True)
        ),
        "ledger": sorted(LedgerEntry.objects.values_list("kind", "detail__count")),
    }


@pytest.fixture
def uninterrupted(sw: SchoolWorld) -> dict[str, Any]:
    """What importing the sample zip leaves, measured in a savepoint that is then rolled back."""
    from django.db import transaction

    with transaction.atomic():
        roster.roster_import_run(import_id=_queued(sw, roster_zip()).pk)
        found = _snapshot(sw)
        transaction.set_rollback(True)
    return found


def test_a_worker_dying_mid_import_is_shown_interrupted_and_try_again_imports_it_exactly_once(
    sw: SchoolWorld,
    uninterrupted: dict[str, Any],
    monkeypatch: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    roster_import = _queued(sw, roster_zip())
    before = _snapshot(sw)
    # the worker dies after the students and their consent were written, before the classes
    _killed_in(monkeypatch, roster, "_create_students")
    with pytest.raises(WorkerKilled):
        roster.roster_import_run(import_id=roster_import.pk)
    roster_import.refresh_from_db()
    assert roster_import.state == RosterImport.State.RUNNING
    assert roster_import.written_at is None
    assert _snapshot(sw) == before  # its transaction rolled back: nothing half-written

    page = reverse("schools:roster_import", args=[sw.school.pk, roster_import.pk])
    client = sw.client(sw.admin)
    html = client.get(page).content.decode()
    assert "Importing" in html
    assert "Try again" not in html  # not yet: it may still be running
    assert roster.roster_import_run(import_id=roster_import.pk).state == RosterImport.State.RUNNING  # left alone
    retry = reverse("schools:roster_retry", args=[sw.school.pk, roster_import.pk])
    assert client.post(retry, follow=True).status_code == 200
    assert RosterImport.objects.get(pk=roster_import.pk).attempts == 1  # refused: it is not interrupted

    _stall(roster_import, settings)
    html = client.get(page).content.decode()
    assert "Interrupted" in html
    assert "Try again" in html
    assert 'http-equiv="refresh"' not in html
    listing = client.get(reverse("schools:roster_upload", args=[sw.school.pk])).content.decode()
    assert "Interrupted" in listing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry, follow=True)
    assert "The import was queued again." in response.content.decode()
    roster_import.refresh_from_db()
    assert (roster_import.state, roster_import.attempts) == (RosterImport.State.DONE, 2)
    assert roster_import.file_name == ""
    assert _snapshot(sw) == uninterrupted
    assert ledger.verify_chain().ok
    assert "The roster was imported." in client.get(page).content.decode()


def test_the_page_is_translated(sw: SchoolWorld, monkeypatch: Any, settings: Any) -> None:
    roster_import = _queued(sw, roster_zip())
    _killed_in(monkeypatch, roster, "_create_students")
    with pytest.raises(WorkerKilled):
        roster.roster_import_run(import_id=roster_import.pk)
    _stall(roster_import, settings)
    client = sw.client(sw.admin)
    page = reverse("schools:roster_import", args=[sw.school.pk, roster_import.pk])
    html = client.get(page, headers={"accept-language": "ro"}).content.decode()
    assert "Întreruptă" in html
    assert "Încercați din nou" in html


def test_beat_queues_an_interrupted_import_again_until_its_attempts_run_out(
    sw: SchoolWorld,
    uninterrupted: dict[str, Any],
    monkeypatch: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.ROSTER_IMPORT_MAX_ATTEMPTS = 2
    roster_import = _queued(sw, roster_zip())
    for _attempt in range(2):
        _killed_in(monkeypatch, roster, "_apply")
        with pytest.raises(WorkerKilled):
            roster_import_task(roster_import.pk)
        _stall(roster_import, settings)
        if roster_import.attempts < 2:
            with django_capture_on_commit_callbacks(execute=False) as callbacks:
                assert roster.roster_imports_resume() == 1
            assert len(callbacks) == 1  # the task, once the transaction commits
            assert roster.roster_imports_resume() == 0  # queued: not interrupted any more
    assert roster_import.attempts == 2
    assert roster.roster_imports_resume() == 0  # out of attempts: left to the administrator
    assert roster.roster_import_interrupted(roster_import)
    with django_capture_on_commit_callbacks(execute=True):
        roster.roster_import_retry(actor=sw.admin, roster_import=roster_import)
    roster_import.refresh_from_db()
    assert roster_import.state == RosterImport.State.DONE
    assert _snapshot(sw) == uninterrupted


def test_a_run_still_writing_is_never_doubled(sw: SchoolWorld, settings: Any) -> None:
    """Even past the stall time, a run that still holds the import's lock (alive, only slow) is left alone."""
    roster_import = _queued(sw, roster_zip())
    RosterImport.objects.filter(pk=roster_import.pk).update(state=RosterImport.State.RUNNING)
    _stall(roster_import, settings)
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"], host=db["HOST"], port=db["PORT"], autocommit=True
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [roster.LOCK_KEY, roster_import.pk])
        with CaptureQueriesContext(connection) as queries:
            result = roster.roster_import_run(import_id=roster_import.pk)
    assert result.state == RosterImport.State.RUNNING
    written = {q["sql"].split('"')[1] for q in queries.captured_queries if q["sql"].startswith("INSERT")}
    assert written == set()
    assert not RosteredPerson.objects.filter(school=sw.school).exists()


def test_a_worker_dying_during_the_erasures_only_finishes_them(
    sw: SchoolWorld, monkeypatch: Any, settings: Any
) -> None:
    roster.roster_import_run(import_id=_queued(sw, roster_zip()).pk)
    zoe = RosteredPerson.objects.get(school=sw.school, sourced_id="stu-3").user
    leo = RosteredPerson.objects.get(school=sw.school, sourced_id="stu-2").user
    users = [u for u in STUDENTS if u.sourced_id not in ("stu-2", "stu-3")]
    enrollments = [e for e in ENROLLMENTS if e.user_id not in ("stu-2", "stu-3")]
    roster_import = _queued(
        sw, roster_zip(users=[*users, *STAFF, *GUARDIANS], enrollments=enrollments), confirm_erase=True
    )
    from accounts import services as account_services

    _killed_in(monkeypatch, account_services, "account_erase_now")  # after the first of the two erasures
    with pytest.raises(WorkerKilled):
        roster.roster_import_run(import_id=roster_import.pk)
    roster_import.refresh_from_db()
    assert roster_import.written_at is not None  # the roster's transaction had committed
    gone = [u.pk for u in (leo, zoe) if not User.objects.filter(pk=u.pk).exists()]
    assert len(gone) == 1
    _stall(roster_import, settings)
    with CaptureQueriesContext(connection) as queries:
        result = roster.roster_import_run(import_id=roster_import.pk)
    assert result.state == RosterImport.State.DONE
    assert result.summary["result"] == {"erased": 2, "erase_retrying": 0}
    assert not User.objects.filter(pk__in=[leo.pk, zoe.pk]).exists()
    assert not [q for q in queries.captured_queries if 'INTO "consent_consentrecord"' in q["sql"]]
    left = RosteredPerson.objects.filter(school=sw.school, role="student").values_list("sourced_id", flat=True)
    assert sorted(left) == ["stu-1", "stu-4"]


def test_an_interrupted_import_not_tried_again_fails_and_its_file_goes(
    sw: SchoolWorld, monkeypatch: Any, settings: Any
) -> None:
    roster_import = _queued(sw, roster_zip())
    _killed_in(monkeypatch, roster, "_apply")
    with pytest.raises(WorkerKilled):
        roster.roster_import_run(import_id=roster_import.pk)
    later = timezone.now() + datetime.timedelta(hours=settings.ROSTER_PREVIEW_TTL_HOURS + 1)
    assert roster.roster_previews_expired_delete(now=later) == 1
    roster_import.refresh_from_db()
    assert (roster_import.state, roster_import.file_name) == (RosterImport.State.FAILED, "")
    assert "Upload the file again" in roster_import.error


def test_out_of_time_while_writing_fails_and_during_the_erasures_resumes(sw: SchoolWorld) -> None:
    writing, erasing = _queued(sw, roster_zip()), _queued(sw, roster_zip())
    RosterImport.objects.filter(pk__in=[writing.pk, erasing.pk]).update(state=RosterImport.State.RUNNING)
    RosterImport.objects.filter(pk=erasing.pk).update(written_at=timezone.now())
    assert roster.roster_import_timed_out(import_id=writing.pk).state == RosterImport.State.FAILED
    assert roster.roster_import_timed_out(import_id=erasing.pk).state == RosterImport.State.RUNNING
    erasing.refresh_from_db()
    assert erasing.file_name != ""  # kept for the run that finishes it
