"""Age-up: a daily task flags children who reached the age of consent of their rule; at their next sign-in
they accept the privacy policy themselves, parental control ends, the parents are told, the ledger notes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.models import AgeDecision, ConsentRecord, LedgerEntry, ParentalControl
from consent.portal import actions, reads
from consent.selectors import is_child_account
from privacy.models import PolicyAcceptance, PolicyVersion
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child
from tests.consent.test_expiry import FinishedTasks, finished_tasks  # noqa: F401 (fixture)
from tests.support.smtp import SmtpSink

MUM = "mum@example.org"


def _reaches_age(child: Any, *, months_ago: int) -> None:
    first = timezone.now().date().replace(day=1)
    month = (first - timedelta(days=28 * months_ago)).replace(day=1) if months_ago > 0 else first + timedelta(days=40)
    AgeDecision.objects.filter(user=child).update(consent_month=month.replace(day=1))


def _ensure_policy() -> None:
    if not PolicyVersion.objects.exists():
        PolicyVersion.objects.create(version="2018-05-24", effective_at=timezone.now() - timedelta(days=1))


@pytest.mark.django_db
def test_the_search_flags_only_children_whose_month_has_come_and_is_idempotent(settings: Any) -> None:
    due = consented_child("old.enough", MUM)
    not_yet = consented_child("too.young", "dad@example.org")
    _reaches_age(due, months_ago=1)
    _reaches_age(not_yet, months_ago=0)

    assert actions.children_age_up_find(batch_size=1) == 1
    assert actions.children_age_up_find() == 0
    assert list(ParentalControl.objects.values_list("record__child__username", flat=True)) == ["old.enough"]
    assert reads.age_up_due(due)
    assert not reads.age_up_due(not_yet)


@pytest.mark.django_db
def test_a_child_not_due_cannot_end_parental_control() -> None:
    child = consented_child("too.young", MUM)
    client = Client()
    client.force_login(child)

    response = client.post(reverse("consent:age_up"), {"accept": "on"})

    assert response.status_code == 302
    assert not PolicyAcceptance.objects.filter(user=child).exists()
    assert is_child_account(child)
    assert not LedgerEntry.objects.filter(kind="aged_up").exists()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_age_up_through_the_real_worker_then_the_child_accepts_the_policy_at_next_sign_in(
    real_celery_worker: Any,
    smtp_sink: SmtpSink,
    finished_tasks: FinishedTasks,  # noqa: F811
) -> None:
    _ensure_policy()
    child = consented_child("grown.up", MUM)
    _reaches_age(child, months_ago=2)
    from consent.tasks import children_age_up_find_task

    children_age_up_find_task.delay()
    assert finished_tasks.wait("consent.tasks.children_age_up_find_task")
    assert ParentalControl.objects.get(record__child=child).age_up_due_at is not None

    browser = Client()
    signed_in = browser.post(reverse("account_login"), {"login": "grown.up", "password": CHILD_PASSWORD}, follow=True)
    assert signed_in.redirect_chain[-1][0] == reverse("consent:age_up")
    assert browser.get(reverse("accounts:profile"))["Location"] == reverse("consent:age_up")  # nothing else first
    refused = browser.post(reverse("consent:age_up"), {})
    assert refused.status_code == 200
    assert "Please accept" in refused.content.decode()

    browser.post(reverse("consent:age_up"), {"accept": "on"})

    message = smtp_sink.wait_for(to=MUM, subject_contains="manages their own")
    assert "grown.up" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert PolicyAcceptance.objects.filter(user=child, by_guardian=False).exists()
    assert ParentalControl.objects.get(record__child=child).ended_at is not None
    assert not is_child_account(child)
    assert ConsentRecord.objects.filter(child=child).exists()  # the record stays, noting the change
    aged = LedgerEntry.objects.get(kind="aged_up")
    assert aged.actor == "child"
    assert aged.detail["policy_accepted"]
    assert browser.get(reverse("accounts:profile")).status_code == 200
    assert not reads.records_visible_to_parent(email=MUM).exists()  # the portal no longer shows the child
    assert mail.outbox == []  # everything went through the worker and real SMTP
