"""Publishing a material change of the privacy policy: adults accept at their next sign-in; parents of children
under their consent (and second guardians) are emailed and asked, reminded once, then the child is paused until a
parent agrees; schools' contacts and the parents schools recorded are told. Real SMTP sink, real Celery worker.

And the merger or transfer notice: every account holder, every parent on a consent record, every school contact,
one tracked delivery per recipient, accounts without email reached through their parent or school."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User, UserSession
from consent import services as consent_services
from consent.models import ConsentRecord, LedgerEntry, ParentalControl
from consent.portal import actions
from privacy import services
from privacy.models import Notice, NoticeDelivery, PolicyAcceptance, PolicyReconsent, PolicyVersion
from schools.models import SchoolMembership
from tests.accounts.factories import UserFactory
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child
from tests.consent.test_expiry import FinishedTasks, finished_tasks  # noqa: F401 (fixture)
from tests.grading.factories import SchoolFactory
from tests.support.smtp import SmtpSink, body_text, first_link

MUM = "mum@example.org"
DAD = "dad@example.org"
SCHOOL_DAD = "school.dad@example.org"


def _material_version(name: str = "2027-01-01") -> PolicyVersion:
    return PolicyVersion.objects.create(
        version=name,
        effective_at=timezone.now() - timedelta(seconds=1),
        material=True,
        summary="A tutoring provider joins the integral providers.",
        template_name="privacy/policy_2026.html",
    )


def _school_child(*, contact: str = "office@maple.example") -> tuple[User, Any, User]:
    school = SchoolFactory(contact_email=contact)
    principal = UserFactory(email="principal@maple.example")
    SchoolMembership.objects.create(school=school, user=principal, role=SchoolMembership.Role.ADMIN)
    student = UserFactory(email="", username="maple.student")
    SchoolMembership.objects.create(school=school, user=student, role=SchoolMembership.Role.STUDENT)
    consent_services.consent_record_school(child=student, school=school, granted_by=principal)
    return student, school, principal


def _all_sent(notice: Notice) -> bool:
    """Each delivery's outbox email marked sent (the worker marks it just after the server accepted it)."""
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        statuses = set(NoticeDelivery.objects.filter(notice=notice).values_list("email__status", flat=True))
        if statuses == {"sent"}:
            return True
        time.sleep(0.1)
    return False


def _sign_in(login: str) -> Client:
    browser = Client()
    browser.post(reverse("account_login"), {"login": login, "password": CHILD_PASSWORD})
    return browser


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_publication_asks_parents_and_guardians_tells_schools_and_prompts_adults(
    real_celery_worker: Any,
    smtp_sink: SmtpSink,
    finished_tasks: FinishedTasks,  # noqa: F811
    password: str,
) -> None:
    adult = UserFactory(email="adult@example.org")
    child = consented_child("kid.one", MUM)
    record = ConsentRecord.objects.get(child=child)
    actions.portal_guardian_invite(record=record, parent_email=MUM, guardian_email=DAD)
    student, school, principal = _school_child()
    consent_services.school_guardians_set(child=student, school=school, actor=principal, emails=[SCHOOL_DAD])
    smtp_sink.clear()
    version = _material_version()

    assert services.policy_publish(version=version)
    assert not services.policy_publish(version=version)  # once

    assert finished_tasks.wait("privacy.tasks.policy_parents_notify_task")
    for asked in (MUM, DAD):
        letter = body_text(smtp_sink.wait_for(to=asked, subject_contains="review it for your child"))
        assert "A tutoring provider joins the integral providers." in letter
        assert "we remind you once in 14 days" in letter
        assert "/privacy/policy-consent/" in first_link(letter, "/privacy/policy-consent/")
    for told in ("office@maple.example", "principal@maple.example", SCHOOL_DAD):
        letter = body_text(smtp_sink.wait_for(to=told, subject_contains="We updated our privacy policy"))
        assert "nothing you need to do" in letter
    assert list(PolicyReconsent.objects.values_list("child_id", flat=True)) == [child.pk]
    assert not PolicyReconsent.objects.filter(child=student).exists()  # the school's consent covers it

    # the adult is asked at the next sign-in, not the school's student nor the child
    browser = Client()
    signed_in = browser.post(reverse("account_login"), {"login": adult.email, "password": password})
    assert signed_in.status_code == 302
    assert browser.get(reverse("accounts:profile"))["Location"].startswith(reverse("privacy:policy_accept"))
    browser.post(reverse("privacy:policy_accept"), {"accept": "on", "next": "/account/profile/"})
    assert PolicyAcceptance.objects.filter(user=adult, version=version, by_guardian=False).exists()
    assert mail.outbox == []  # everything went through the worker and real SMTP


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_no_answer_one_reminder_then_the_child_is_paused_until_a_parent_agrees(
    real_celery_worker: Any,
    smtp_sink: SmtpSink,
    finished_tasks: FinishedTasks,  # noqa: F811
    settings: Any,
) -> None:
    from privacy.tasks import policy_reconsent_followup_task

    settings.POLICY_RECONSENT_DAYS = 14
    child = consented_child("kid.two", MUM)
    content = _sign_in("kid.two")
    assert content.get(reverse("accounts:profile")).status_code == 200
    version = _material_version()
    services.policy_publish(version=version)
    assert finished_tasks.wait("privacy.tasks.policy_parents_notify_task")
    smtp_sink.wait_for(to=MUM, subject_contains="review it for your child")

    # not yet due: nothing happens
    policy_reconsent_followup_task.delay()
    assert finished_tasks.wait("privacy.tasks.policy_reconsent_followup_task")
    finished_tasks.events.pop("privacy.tasks.policy_reconsent_followup_task")
    assert smtp_sink.received(to=MUM)[-1]["Subject"].endswith("please review it for your child")

    # POLICY_RECONSENT_DAYS later: one reminder, saying when the account would be paused
    PolicyReconsent.objects.update(asked_at=timezone.now() - timedelta(days=15))
    policy_reconsent_followup_task.delay()
    assert finished_tasks.wait("privacy.tasks.policy_reconsent_followup_task")
    finished_tasks.events.pop("privacy.tasks.policy_reconsent_followup_task")
    reminder = body_text(smtp_sink.wait_for(to=MUM, subject_contains="Reminder"))
    assert "your child's account will be paused on" in reminder
    row = PolicyReconsent.objects.get()
    assert row.reminded_at is not None
    assert row.paused_at is None
    assert User.objects.get(pk=child.pk).is_active

    # and POLICY_RECONSENT_DAYS after the reminder: paused, sessions end, the ledger says why
    PolicyReconsent.objects.update(reminded_at=timezone.now() - timedelta(days=15))
    policy_reconsent_followup_task.delay()
    assert finished_tasks.wait("privacy.tasks.policy_reconsent_followup_task")
    paused_letter = body_text(smtp_sink.wait_for(to=MUM, subject_contains="is paused"))
    assert not User.objects.get(pk=child.pk).is_active
    assert not UserSession.objects.filter(user_id=child.pk).exists()
    assert content.get(reverse("accounts:profile")).status_code == 302  # signed out for good
    suspended = LedgerEntry.objects.filter(kind="suspended").latest("seq")
    assert suspended.detail == {"reason": "policy_not_accepted", "policy_version": version.version}
    refused = Client().post(reverse("account_login"), {"login": "kid.two", "password": CHILD_PASSWORD})
    assert "says yes to our new privacy rules" in refused.content.decode()
    assert len([m for m in smtp_sink.received(to=MUM) if "Reminder" in str(m["Subject"])]) == 1  # only one

    # the parent agrees from the email: the child works again
    link = first_link(paused_letter, "/privacy/policy-consent/")
    parent = Client()
    assert parent.get(link).status_code == 200
    assert not User.objects.get(pk=child.pk).is_active  # a GET (a mail scanner) changes nothing
    parent.post(link, {"confirm": "yes"})
    assert User.objects.get(pk=child.pk).is_active
    assert PolicyAcceptance.objects.filter(user=child, version=version, by_guardian=True).exists()
    assert PolicyReconsent.objects.get().answered_at is not None
    resumed = LedgerEntry.objects.filter(kind="resumed").latest("seq")
    assert resumed.detail == {"reason": "policy_accepted", "policy_version": version.version}
    assert _sign_in("kid.two").get(reverse("accounts:profile")).status_code == 200
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_child_the_parent_also_paused_stays_paused_and_a_guardians_answer_counts(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    child = consented_child("kid.three", MUM)
    record = ConsentRecord.objects.get(child=child)
    actions.portal_guardian_invite(record=record, parent_email=MUM, guardian_email=DAD)
    version = _material_version()
    with django_capture_on_commit_callbacks(execute=True):
        services.policy_publish(version=version)
    later = timezone.now() + timedelta(days=settings.POLICY_RECONSENT_DAYS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.policy_reconsent_followup(now=later)
        services.policy_reconsent_followup(now=later + timedelta(days=settings.POLICY_RECONSENT_DAYS + 1))
    assert ParentalControl.objects.get(record=record).policy_paused_at is not None
    actions.portal_child_suspend(record=record, parent_email=MUM)  # the parent also stops collection
    actions.portal_child_resume(record=record, parent_email=MUM)
    assert not User.objects.get(pk=child.pk).is_active  # still waiting for the policy answer

    dad_letter = next(m for m in mail.outbox if m.to == [DAD] and "paused" in m.subject)
    link = first_link(dad_letter.body, "/privacy/policy-consent/")
    Client().post(link, {"confirm": "yes"})

    assert User.objects.get(pk=child.pk).is_active
    assert PolicyReconsent.objects.get(child=child).answered_at is not None


@pytest.mark.django_db
def test_a_child_who_accepted_meanwhile_is_neither_reminded_nor_paused(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    child = consented_child("kid.four", MUM)
    version = _material_version()
    with django_capture_on_commit_callbacks(execute=True):
        services.policy_publish(version=version)
    PolicyAcceptance.objects.create(user=child, version=version, by_guardian=True)
    mail.outbox.clear()

    later = timezone.now() + timedelta(days=settings.POLICY_RECONSENT_DAYS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = services.policy_reconsent_followup(now=later)
        services.policy_reconsent_followup(now=later + timedelta(days=settings.POLICY_RECONSENT_DAYS + 1))

    assert outcome["closed"] == 1
    assert mail.outbox == []
    assert User.objects.get(pk=child.pk).is_active


@pytest.mark.django_db
def test_the_command_and_the_admin_action_publish_once(
    django_capture_on_commit_callbacks: Any, privacy_officer_user: User
) -> None:
    from io import StringIO

    from tests.support.mfa import sign_in

    consented_child("kid.five", MUM)
    first = _material_version("2027-02-01")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("policy_publish", first.version, stdout=out)
    assert "published (material: parents are being asked)" in out.getvalue()
    asked = [m for m in mail.outbox if "privacy policy" in m.subject]
    assert [m.to for m in asked] == [[MUM]]

    second = _material_version("2027-03-01")
    staff = sign_in(Client(), privacy_officer_user)
    changelist = reverse("admin:privacy_policyversion_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(changelist, {"action": "publish", "_selected_action": [first.pk, second.pk]})
    second.refresh_from_db()
    assert second.published_at is not None
    asked = [m for m in mail.outbox if "privacy policy" in m.subject]
    assert len(asked) == 2  # the first was already published: nobody asked twice for it


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_transfer_notice_reaches_account_holders_parents_and_schools_tracked_per_recipient(
    real_celery_worker: Any,
    smtp_sink: SmtpSink,
    finished_tasks: FinishedTasks,  # noqa: F811
) -> None:
    adult = UserFactory(email="holder@example.org")
    consented_child("kid.six", MUM)  # a username login: no email of its own
    second = consented_child("kid.seven", MUM)
    actions.portal_guardian_invite(record=ConsentRecord.objects.get(child=second), parent_email=MUM, guardian_email=DAD)
    student, _school, principal = _school_child()
    UserFactory(email="", username="nobody.to.ask")  # no email, no parent, no school: counted as unreached
    notice = Notice.objects.create(subject="Mindomo joins Example Corp", body="Your data moves on 1 March 2027.")

    services.notice_send(notice=notice)

    assert finished_tasks.wait("privacy.tasks.notice_deliver_batch_task")
    letters = {}
    for address in (adult.email, principal.email, MUM, DAD, "office@maple.example"):
        message = smtp_sink.wait_for(to=address, subject_contains="Mindomo joins Example Corp")
        letters[address] = body_text(message)
        assert "Your data moves on 1 March 2027." in letters[address]
    assert "parent or legal guardian of 2 children with Mindomo accounts" in letters[MUM]
    assert "a school that registered a student on Mindomo" in letters["office@maple.example"]
    assert "because you have a Mindomo account" in letters[adult.email]
    rows = {d.address: (d.via, d.covers) for d in NoticeDelivery.objects.filter(notice=notice)}
    assert rows[MUM] == ("parent", 2)
    assert rows[DAD] == ("guardian", 0)
    assert rows["office@maple.example"] == ("school", 1)
    assert rows["holder@example.org"] == ("account", 0)
    assert student.email == ""
    notice.refresh_from_db()
    assert notice.unreached == 1
    assert _all_sent(notice)  # tracked per recipient, through the outbox
    assert mail.outbox == []
