from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from accounts.models import User
from privacy import services
from privacy.models import DisclosureRequest, DisclosureSubject, Notice, NoticeDelivery
from tests.accounts.factories import UserFactory
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db


def _request(received: date, kind: str, outcome: str, users: list[User]) -> DisclosureRequest:
    request = DisclosureRequest.objects.create(
        authority="Police", kind=kind, legal_basis="Art. 1", received_on=received, outcome=outcome
    )
    for user in users:
        DisclosureSubject.objects.create(request=request, user=user, subject_id=user.pk)
    return request


def test_the_transparency_report_counts_requests_per_half_year_by_type_and_outcome(
    privacy_officer_user: User,
) -> None:
    a, b = UserFactory(), UserFactory()
    _request(date(2026, 2, 1), "subpoena", "rejected", [a])
    _request(date(2026, 6, 30), "subpoena", "rejected", [a, b])
    _request(date(2026, 7, 1), "subpoena", "rejected", [])
    _request(date(2026, 8, 9), "court_order", "disclosed", [b])
    client = Client()
    sign_in(client, privacy_officer_user)

    response = client.post(
        reverse("admin:privacy_disclosurerequest_changelist"),
        {
            "action": "transparency_report",
            "_selected_action": list(DisclosureRequest.objects.values_list("pk", flat=True)),
        },
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [
        {"period": "2026-H1", "type": "subpoena", "outcome": "rejected", "requests": "2", "users_concerned": "3"},
        {"period": "2026-H2", "type": "court_order", "outcome": "disclosed", "requests": "1", "users_concerned": "1"},
        {"period": "2026-H2", "type": "subpoena", "outcome": "rejected", "requests": "1", "users_concerned": "0"},
    ]


def test_a_privacy_officer_records_a_request_with_the_users_concerned(privacy_officer_user: User, member: User) -> None:
    client = Client()
    sign_in(client, privacy_officer_user)
    response = client.post(
        reverse("admin:privacy_disclosurerequest_add"),
        {
            "authority": "Court of Cluj",
            "kind": "court_order",
            "legal_basis": "Art. 170 CPP",
            "received_on": "2026-10-01",
            "outcome": "partial",
            "disclosed": "Account email and sign-up date",
            "notes": "",
            "subjects-TOTAL_FORMS": "1",
            "subjects-INITIAL_FORMS": "0",
            "subjects-MIN_NUM_FORMS": "0",
            "subjects-MAX_NUM_FORMS": "1000",
            "subjects-0-subject_id": str(member.pk),
            "subjects-0-notified": "on",
            "subjects-0-notified_on": "2026-10-05",
            "subjects-0-notice_withheld_reason": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    request = DisclosureRequest.objects.get()
    assert request.recorded_by == privacy_officer_user
    assert list(request.subjects.values_list("subject_id", "notified")) == [(member.pk, True)]


@pytest.mark.parametrize("role", ["support_user", "billing_clerk_user", "staff_without_role"])
def test_only_privacy_officers_see_the_disclosure_register(request: pytest.FixtureRequest, role: str) -> None:
    client = Client()
    sign_in(client, request.getfixturevalue(role))
    assert client.get(reverse("admin:privacy_disclosurerequest_changelist")).status_code == 403


def test_the_database_refuses_a_notified_user_without_a_date(member: User) -> None:
    from django.db import IntegrityError

    request = _request(date(2026, 1, 1), "warrant", "pending", [])
    with pytest.raises(IntegrityError):
        DisclosureSubject.objects.create(request=request, subject_id=member.pk, notified=True)


def test_a_notice_reaches_every_active_user_in_rate_limited_batches(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.NOTICE_BATCH_SIZE = 2
    recipients = [UserFactory() for _ in range(5)]
    UserFactory(is_active=False)
    UserFactory(email="")  # a school student without email
    notice = Notice.objects.create(subject="We are joining Example Corp", body="Your data moves on 1 March.")

    with django_capture_on_commit_callbacks(execute=True):
        queued = services.notice_send(notice=notice)

    assert queued == 5
    notice.refresh_from_db()
    assert notice.state == Notice.State.SENT
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in recipients)
    assert set(NoticeDelivery.objects.values_list("state", "email__status")) == {("queued", "sent")}
    assert "Your data moves on 1 March." in mail.outbox[0].body


def test_a_notice_is_sent_only_once(django_capture_on_commit_callbacks: Any) -> None:
    UserFactory()
    notice = Notice.objects.create(subject="Hello", body="Text")
    with django_capture_on_commit_callbacks(execute=True):
        services.notice_send(notice=notice)
    with pytest.raises(ValidationError):
        services.notice_send(notice=notice)
    assert len(mail.outbox) == 1


def test_a_failed_delivery_is_recorded_and_the_others_still_go_out(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """An SMTP server refusing one recipient: that delivery is marked failed with the reason."""
    from tests.support.smtp import SmtpSink

    class RefusingSink(SmtpSink):
        pass

    sink = RefusingSink()

    async def handle_rcpt(server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if address.startswith("bounce"):
            return "550 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    sink.handler.handle_RCPT = handle_rcpt  # type: ignore[attr-defined,method-assign]
    sink.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        good = UserFactory(email="good@example.com")
        bad = UserFactory(email="bounce@example.com")
        notice = Notice.objects.create(subject="Notice", body="Text")
        with django_capture_on_commit_callbacks(execute=True):
            services.notice_send(notice=notice)
    finally:
        sink.stop()

    states = dict(NoticeDelivery.objects.values_list("user_id", "email__status"))
    assert states == {good.pk: "sent", bad.pk: "failed"}
    assert "550 No such user" in NoticeDelivery.objects.select_related("email").get(user=bad).email.error
