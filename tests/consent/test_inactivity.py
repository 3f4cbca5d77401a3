"""COPPA §312.10: a child's or school-registered account nobody signs in to is not kept indefinitely. It is
announced to the parent (or the school) after CHILD_INACTIVITY_DAYS and erased through the pipeline
CHILD_INACTIVITY_NOTICE_DAYS later unless someone signs in; the retention page and the dry run show the rule.
Real Celery worker, real SMTP sink, the table scanner."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountDeletionRequest, User
from consent import services
from consent.models import ConsentRecord, ParentalControl
from privacy import services as privacy_services
from schools.models import SchoolMembership
from tests.accounts.factories import UserFactory
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child
from tests.consent.test_expiry import FinishedTasks, finished_tasks  # noqa: F401 (fixture)
from tests.grading.factories import SchoolFactory
from tests.support.dbscan import tables_containing
from tests.support.smtp import SmtpSink, body_text

MUM = "mum.of.sleepy@example.org"
RULE = "consent.inactive_children"


def _unused_for(user: User, days: int) -> None:
    long_ago = timezone.now() - timedelta(days=days)
    User.objects.filter(pk=user.pk).update(last_login=long_ago, date_joined=long_ago)


def _school_student(username: str) -> User:
    school = SchoolFactory(name="Maple Grove", contact_email="office@maple.example")
    principal = UserFactory(email="principal@maple.example")
    SchoolMembership.objects.create(school=school, user=principal, role=SchoolMembership.Role.ADMIN)
    student = UserFactory(email="", username=username, last_login=None)
    SchoolMembership.objects.create(school=school, user=student, role=SchoolMembership.Role.STUDENT)
    services.consent_record_school(child=student, school=school, granted_by=principal)
    return student


def _dry_run(now: Any) -> list[int]:
    (outcome,) = privacy_services.retention_apply(now=now, dry_run=True, rules=[RULE])
    return outcome.pks


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_unused_accounts_are_announced_then_erased_unless_someone_signs_in(
    real_celery_worker: Any,
    smtp_sink: SmtpSink,
    finished_tasks: FinishedTasks,  # noqa: F811
    settings: Any,
) -> None:
    from consent.tasks import children_inactivity_announce_task
    from privacy.tasks import retention_apply_task

    settings.CHILD_INACTIVITY_DAYS = 365
    settings.CHILD_INACTIVITY_NOTICE_DAYS = 30
    sleepy = consented_child("sleepy.kid", MUM)
    _unused_for(sleepy, 400)
    student = _school_student("sleepy.student")
    _unused_for(student, 400)
    returning = consented_child("coming.back", "dad.of.returning@example.org")
    _unused_for(returning, 400)
    busy = consented_child("busy.kid", "mum.of.busy@example.org")
    _unused_for(busy, 10)
    adult = UserFactory(email="quiet.adult@example.org")
    _unused_for(adult, 900)  # adults are not children: never announced
    smtp_sink.clear()

    children_inactivity_announce_task.delay()
    assert finished_tasks.wait("consent.tasks.children_inactivity_announce_task")

    letter = body_text(smtp_sink.wait_for(to=MUM, subject_contains="deleted for lack of use"))
    assert '"sleepy.kid" for more than 365 days' in letter
    assert "To keep it, the student only needs to sign in once before then." in letter
    school_letter = body_text(smtp_sink.wait_for(to="office@maple.example", subject_contains="lack of use"))
    assert '"sleepy.student", registered by Maple Grove' in school_letter
    smtp_sink.wait_for(to="principal@maple.example", subject_contains="lack of use")
    smtp_sink.wait_for(to="dad.of.returning@example.org", subject_contains="lack of use")
    # (the sign-ups' own confirmation emails may still be arriving from the worker: only this notice counts)
    for quiet in ("mum.of.busy@example.org", "quiet.adult@example.org"):
        assert [m for m in smtp_sink.received(to=quiet) if "lack of use" in str(m["Subject"])] == []
    announced = set(
        ParentalControl.objects.filter(inactivity_notice_at__isnull=False).values_list("record__child_id", flat=True)
    )
    assert announced == {sleepy.pk, student.pk, returning.pk}

    # someone signs in to one of them meanwhile: it is kept
    Client().post(reverse("account_login"), {"login": "coming.back", "password": CHILD_PASSWORD})
    assert User.objects.get(pk=returning.pk).last_login > timezone.now() - timedelta(minutes=5)

    # the dry run lists, at the erasure date, exactly the two unused accounts; nothing before it
    assert _dry_run(timezone.now() + timedelta(days=29)) == []
    due = timezone.now() + timedelta(days=31)
    assert _dry_run(due) == sorted([sleepy.pk, student.pk])
    out = StringIO()
    call_command("retention", "--dry-run", stdout=out)
    assert f"{RULE}: would delete 0" in out.getvalue()  # today: announced, not yet due

    # the real run (beat's task, through the worker) erases them through the pipeline, once the period passed
    ParentalControl.objects.filter(inactivity_notice_at__isnull=False).update(
        inactivity_notice_at=timezone.now() - timedelta(days=31)
    )
    retention_apply_task.delay()
    assert finished_tasks.wait("privacy.tasks.retention_apply_task", timeout=60)

    assert not User.objects.filter(pk__in=[sleepy.pk, student.pk]).exists()
    for login in ("sleepy.kid", "sleepy.student"):
        assert tables_containing(login) == {}
    assert (
        AccountDeletionRequest.objects.filter(state="erased", reason__contains="no sign-in for 365 days").count() == 2
    )
    assert User.objects.filter(pk__in=[returning.pk, busy.pk, adult.pk]).count() == 3
    assert ConsentRecord.objects.filter(child=returning).exists()
    assert mail.outbox == []


@pytest.mark.django_db
def test_the_rule_is_on_the_retention_page_and_in_the_privacy_policy(client: Client) -> None:
    for url in (reverse("privacy:retention"), reverse("privacy_policy")):
        html = client.get(url).content.decode()
        assert "erased 30 days after we told the parent or the school, once nobody had signed in for 365 days" in html


@pytest.mark.django_db
def test_announcing_twice_tells_once_and_a_sign_in_after_the_notice_resets_it(
    django_capture_on_commit_callbacks: Any,
) -> None:
    child = consented_child("twice.kid", MUM)
    _unused_for(child, 400)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.children_inactivity_announce(now=now) == 1
        assert services.children_inactivity_announce(now=now) == 0
    assert len([m for m in mail.outbox if "lack of use" in m.subject]) == 1

    User.objects.filter(pk=child.pk).update(last_login=now + timedelta(days=1))
    assert services.inactive_children_expired(now + timedelta(days=40)).count() == 0
    # unused again for a year after that sign-in: announced again
    later = now + timedelta(days=1 + 366)
    assert services.children_inactivity_announce(now=later) == 1
