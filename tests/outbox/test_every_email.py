"""Every email the product sends goes through the outbox: due while the mail server is down, it arrives
exactly once when the server is back.

Each kind is caused the way the product causes it (a page, a service, a task), with the SMTP sink down;
then the sink comes back and the retry task messages run when due (driven here through
``delivery_send`` at each delivery's next attempt; the real worker is exercised once in test_outbox.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import DataExport, User
from mindomo.outbox import services
from mindomo.outbox.models import Delivery
from tests.accounts.factories import UserFactory
from tests.consent.factories import ConsentRecordFactory
from tests.consent.helpers import pass_age_gate
from tests.support import roles
from tests.support.clients import CommittingClient
from tests.support.smtp import SmtpSink, body_text

pytestmark = pytest.mark.django_db

SIGNUP = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada.outage@example.com",
    "password1": "analytical-engine-1843",
    "password2": "analytical-engine-1843",
    "country": "GB",
    "accept_policy": "on",
}


def deliver_due(rounds: int = 5) -> int:
    """Run every pending delivery's next task message at its due time, as the worker would."""
    sent = 0
    for _round in range(rounds):
        pending = list(Delivery.objects.filter(status=Delivery.Status.PENDING))
        if not pending:
            break
        for delivery in pending:
            sent += services.delivery_send(delivery_id=delivery.pk, now=delivery.next_attempt_at) == "sent"
    return sent


class Case:
    """One kind of email: how the product causes it, to whom it goes, words of its subject."""

    def __init__(self, kind: str, cause: Callable[[Any], None], to: str, subject: str) -> None:
        self.kind, self.cause, self.to, self.subject = kind, cause, to, subject

    def __repr__(self) -> str:
        return self.kind


class Env:
    """What a cause may need: fixtures and a committing browser."""

    def __init__(self, request: pytest.FixtureRequest, capture: Any) -> None:
        self.request = request
        self.capture = capture

    def browser(self) -> Client:
        return CommittingClient(self.capture)


# --- accounts and allauth ----------------------------------------------------------------------------
def _signup(env: Env) -> None:
    browser = env.browser()
    pass_age_gate(browser, age=30, country="GB")
    response = browser.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302, response.status_code  # never a 500 while the mail server is down


def _duplicate_signup(env: Env) -> None:
    UserFactory(email="owner@example.com")
    browser = env.browser()
    pass_age_gate(browser, age=30, country="GB")
    response = browser.post(reverse("account_signup"), {**SIGNUP, "email": "OWNER@example.com"})
    assert response.status_code == 302, response.status_code


def _password_reset(env: Env) -> None:
    UserFactory(email="forgetful@example.com")
    response = env.browser().post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    assert response.status_code == 302, response.status_code


def _export_ready(env: Env) -> None:
    user = UserFactory(email="exporter@example.com")
    with env.capture(execute=True):
        export = accounts_services.data_export_request(user=user)
    assert DataExport.objects.get(pk=export.pk).state == DataExport.State.READY


def _deletion_scheduled(env: Env) -> None:
    user = UserFactory(email="leaving@example.com")
    with env.capture(execute=True):
        accounts_services.account_deletion_request(user=user, reauthenticated_by="password")


def _account_erased(env: Env) -> None:
    user = UserFactory(email="erased@example.com")
    deletion = accounts_services.account_deletion_request(user=user, reauthenticated_by="password")
    with env.capture(execute=True):
        accounts_services.account_erasure_run(request_id=deletion.pk, now=deletion.erase_after)
    assert not User.objects.filter(pk=user.pk).exists()


# --- billing, privacy, grading --------------------------------------------------------------------------
def _invoice(env: Env) -> None:
    from tests.billing.helpers import paid_invoice

    buyer = UserFactory(email="buyer.outage@example.com")
    with env.capture(execute=True):
        paid_invoice(buyer)


def _file_ready(env: Env) -> None:
    from tests.billing.helpers import paid_invoice

    settings = env.request.getfixturevalue("settings")  # pytest-django's: restored after the test
    settings.MEDIA_ROOT = str(env.request.getfixturevalue("tmp_path"))
    settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS = 0  # a build that took long: its owner is told by email
    holder = UserFactory(email="zip.holder@example.com")
    paid_invoice(holder)
    browser = env.browser()
    browser.force_login(holder)
    response = browser.post(reverse("billing:invoice_zip"))
    assert response.status_code == 302, response.status_code


def _notice(env: Env) -> None:
    from privacy import services as privacy_services
    from privacy.models import Notice

    UserFactory(email="reader.of.notices@example.com")
    notice = Notice.objects.create(subject="We are joining Example Corp", body="Your data moves on 1 March.")
    with env.capture(execute=True):
        privacy_services.notice_send(notice=notice)


def _policy_reconsent(env: Env) -> None:
    from privacy import services as privacy_services
    from privacy.models import PolicyVersion

    child = UserFactory(email="", verified_email=False)
    ConsentRecordFactory(child=child, parent_email="parent.policy@example.com")
    version = PolicyVersion.objects.create(
        version="2026-12", effective_at=timezone.now(), material=True, summary="A new integral service provider."
    )
    with env.capture(execute=True):
        privacy_services.policy_publish(version=version)


def _teacher_invitation(env: Env) -> None:
    from schools import services as school_services
    from schools.models import SchoolMembership
    from tests.grading.factories import MembershipFactory

    admin = MembershipFactory(role=SchoolMembership.Role.ADMIN).user
    school = SchoolMembership.objects.get(user=admin).school
    with env.capture(execute=True):
        school_services.teacher_invite(admin=admin, school=school, email="new.teacher@example.org")


def _teacher_join(env: Env, *, answer: bool | None) -> None:
    """Someone of the school's verified domain asks to join as a teacher (each administrator is told); with
    ``answer``, an administrator approves or declines (the person is told)."""
    from schools import services as school_services
    from schools.models import SchoolDomain, SchoolMembership
    from tests.grading.factories import MembershipFactory

    admin = MembershipFactory(role=SchoolMembership.Role.ADMIN, user__email="admin.outage@school.example").user
    school = SchoolMembership.objects.get(user=admin).school
    domain = SchoolDomain.objects.create(
        school=school, domain="school.example", provider="google", txt_token="t", verified_at=timezone.now()
    )
    with env.capture(execute=True):
        join_request = school_services.teacher_join_request(
            domain_id=domain.pk,
            email="asking.teacher@school.example",
            first_name="Grace",
            last_name="Hopper",
            language="en",
            client_ip="127.0.0.1",
        )
    if answer is not None:
        with env.capture(execute=True):
            school_services.teacher_join_answer(
                admin=admin, school=school, join_request_id=join_request.pk, approve=answer
            )


# --- consent ------------------------------------------------------------------------------------------
def _child_request(parent: str) -> Any:
    """A child's sealed sign-up (its request email, sent outside the outbox, is not what these cases test)."""
    import datetime

    from consent import services as consent_services
    from consent.age_gate import decide
    from consent.reference_data import ensure_loaded

    ensure_loaded()
    today = timezone.localdate()
    decision = decide(birth_date=datetime.date(today.year - 9, 1, 15), country="US", today=today)
    return consent_services.pending_signup_create(
        login=f"kid.of.{parent.split('@')[0]}",
        password="purple-giraffe-runs-42",
        parent_email=parent,
        decision=decision,
    )


def _reminder(env: Env) -> None:
    from consent import services as consent_services
    from consent.models import PendingSignup

    sealed = _child_request("parent.reminded@example.com")
    due = PendingSignup.objects.get(public_id=sealed.public_id).reminder_due_at
    with env.capture(execute=True):
        assert consent_services.pending_signups_remind(now=due) == 1


def _approval(env: Env) -> None:
    from consent import services as consent_services

    sealed = _child_request("parent.approving@example.com")
    with env.capture(execute=True):
        consent_services.pending_signup_approve(public_id=sealed.public_id, key=sealed.key, guardian_confirmed=True)


# --- the parent portal and age-up --------------------------------------------------------------------------
def _consented(login: str, parent: str) -> Any:
    from consent.models import ConsentRecord
    from tests.consent.portal_helpers import consented_child

    child = consented_child(login, parent)
    Delivery.objects.all().delete()  # the approval's own emails are other cases
    return ConsentRecord.objects.get(child=child)


def _portal_link(env: Env) -> None:
    _consented("kid.portal", "parent.portal@example.com")
    response = env.browser().post(reverse("consent:portal"), {"email": "parent.portal@example.com"})
    assert response.status_code in (200, 302), response.status_code


def _portal_erased(env: Env) -> None:
    from consent.portal import actions

    record = _consented("kid.erased", "parent.erased@example.com")
    with env.capture(execute=True):
        assert actions.portal_child_erase(record=record, parent_email="parent.erased@example.com", withdraw=False)


def _guardian_invited(env: Env) -> None:
    from consent.portal import actions

    record = _consented("kid.guarded", "parent.first@example.com")
    with env.capture(execute=True):
        actions.portal_guardian_invite(
            record=record, parent_email="parent.first@example.com", guardian_email="second.guardian@example.com"
        )


def _school_request(env: Env) -> None:
    from consent.models import ConsentRecord, Guardian
    from consent.portal import actions
    from consent.services import consent_record_school
    from schools.models import School

    school = School.objects.create(name="Maple Grove", country="US", contact_email="office.outage@maplegrove.example")
    student = UserFactory(username="sam.k", email="")
    consent_record_school(child=student, school=school, granted_by=roles.make_superuser())
    record = ConsentRecord.objects.get(child=student)
    Guardian.objects.create(record=record, email="parent.school@example.com")
    with env.capture(execute=True):
        actions.school_request_send(record=record, parent_email="parent.school@example.com", request_kind="deletion")


def _age_up(env: Env) -> None:
    from consent.models import AgeDecision, ParentalControl
    from consent.portal import actions
    from privacy.models import PolicyVersion

    if not PolicyVersion.objects.exists():
        PolicyVersion.objects.create(version="2018-05-24", effective_at=timezone.now() - timedelta(days=1))
    record = _consented("kid.grown", "parent.grown@example.com")
    month = (timezone.now().date().replace(day=1) - timedelta(days=28)).replace(day=1)
    AgeDecision.objects.filter(user=record.child).update(consent_month=month)
    assert actions.children_age_up_find() == 1
    assert ParentalControl.objects.filter(record=record, age_up_due_at__isnull=False).exists()
    with env.capture(execute=True):
        actions.age_up_complete(child=record.child)


CASES = [
    Case("allauth.email_confirmation_signup", _signup, "ada.outage@example.com", "Confirm"),
    Case("allauth.account_already_exists", _duplicate_signup, "owner@example.com", "Account"),
    Case("allauth.password_reset_key", _password_reset, "forgetful@example.com", "Password Reset"),
    Case("accounts.data_export_ready", _export_ready, "exporter@example.com", "Your data export is ready"),
    Case("accounts.deletion_scheduled", _deletion_scheduled, "leaving@example.com", "Your account will be deleted"),
    Case("accounts.account_erased", _account_erased, "erased@example.com", "Your account has been deleted"),
    Case("billing.invoice", _invoice, "buyer.outage@example.com", "INV-"),
    Case("downloads.ready", _file_ready, "zip.holder@example.com", "Your file is ready"),
    Case("privacy.notice", _notice, "reader.of.notices@example.com", "We are joining Example Corp"),
    Case("privacy.policy_reconsent", _policy_reconsent, "parent.policy@example.com", "privacy policy"),
    Case("schools.teacher_invitation", _teacher_invitation, "new.teacher@example.org", "invited to teach"),
    Case(
        "schools.teacher_join_request",
        lambda env: _teacher_join(env, answer=None),
        "admin.outage@school.example",
        "asks to join",
    ),
    Case(
        "schools.teacher_join_answer",
        lambda env: _teacher_join(env, answer=True),
        "asking.teacher@school.example",
        "You are now a teacher",
    ),
    Case(
        "schools.teacher_join_answer",
        lambda env: _teacher_join(env, answer=False),
        "asking.teacher@school.example",
        "was declined",
    ),
    Case("consent.reminder", _reminder, "parent.reminded@example.com", "Reminder"),
    Case("consent.confirmation", _approval, "parent.approving@example.com", "You approved"),
    Case("consent.follow_up", _approval, "parent.approving@example.com", "About your consent"),  # due a day later
    Case("consent.portal_link", _portal_link, "parent.portal@example.com", "sign-in link"),
    Case("consent.portal_erased", _portal_erased, "parent.erased@example.com", "was deleted"),
    Case("consent.guardian_invited", _guardian_invited, "second.guardian@example.com", "You can now manage"),
    Case("consent.school_request", _school_request, "office.outage@maplegrove.example", "A parent's request"),
    Case("consent.age_up_parent", _age_up, "parent.grown@example.com", "now manages their own"),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_an_email_due_while_the_mail_server_is_down_arrives_exactly_once_when_it_is_back(
    case: Case, request: pytest.FixtureRequest, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    smtp_sink.down()
    try:
        case.cause(Env(request, django_capture_on_commit_callbacks))
        deliver_due(rounds=1)  # its time comes (at once, or later for a delayed one): the server is down
        waiting = Delivery.objects.get(to_email__iexact=case.to, kind=case.kind)
        assert waiting.status == Delivery.Status.PENDING, waiting.error
        assert waiting.attempts >= 1, waiting.error
        assert "Connection refused" in waiting.error
    finally:
        smtp_sink.up()
    assert smtp_sink.received(to=case.to) == []

    def arrived() -> list[Any]:
        return [m for m in smtp_sink.received(to=case.to) if case.subject in str(m["Subject"])]

    assert deliver_due() >= 1
    [message] = arrived()
    assert body_text(message).strip()

    # Later messages, duplicates and the beat task send nothing more.
    assert deliver_due() == 0
    services.deliveries_resume(now=timezone.now() + timedelta(hours=1))
    assert len(arrived()) == 1


def test_with_the_mail_server_down_an_adults_sign_up_answers_302_and_the_verification_arrives_later(
    smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    browser = CommittingClient(django_capture_on_commit_callbacks)
    pass_age_gate(browser, age=30, country="GB")
    smtp_sink.down()
    try:
        response = browser.post(reverse("account_signup"), SIGNUP)
    finally:
        smtp_sink.up()
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.filter(email=SIGNUP["email"]).exists()
    deliver_due()
    [message] = smtp_sink.received(to=SIGNUP["email"])
    link = next(word for word in body_text(message).split() if "/accounts/confirm-email/" in word)
    assert browser.post(link).status_code == 302
    assert User.objects.get(email=SIGNUP["email"]).emailaddress_set.get().verified
