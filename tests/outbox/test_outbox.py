"""The outbox mechanism: recorded in the caller's transaction, sent once through outages, failures kept for staff."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from celery.signals import task_postrun
from django.core.mail import EmailMessage
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mindomo.outbox import services
from mindomo.outbox.models import Delivery
from mindomo.outbox.privacy import OutboxPrivacyProvider
from mindomo.privacy import registry
from tests.accounts.factories import UserFactory
from tests.support.dbscan import tables_containing
from tests.support.mfa import sign_in
from tests.support.smtp import SmtpSink, body_text

pytestmark = pytest.mark.django_db


def _enqueue(to: str = "reader@example.org", **options: Any) -> Delivery:
    message = EmailMessage(subject="Hello", body="The body of the email.", to=[to])
    return services.delivery_enqueue(kind="test.hello", message=message, **options)


def _later(minutes: int) -> Any:
    return timezone.now() + timedelta(minutes=minutes)


def test_a_delivery_is_written_in_the_callers_transaction_and_goes_with_its_rollback(smtp_sink: SmtpSink) -> None:
    def change_that_fails() -> None:
        with transaction.atomic():
            _enqueue()
            assert Delivery.objects.count() == 1
            raise RuntimeError("the change that caused the email fails")

    with pytest.raises(RuntimeError, match="the change that caused the email fails"):
        change_that_fails()
    assert Delivery.objects.count() == 0
    assert smtp_sink.received(to="reader@example.org") == []


def test_mail_server_down_then_up_the_email_arrives_exactly_once(
    smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    smtp_sink.down()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            delivery = _enqueue()
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.attempts == 1
        assert "ConnectionRefusedError" in delivery.error
        assert delivery.next_attempt_at > timezone.now()
        # Still down at the next attempt: the wait doubles.
        first_wait = delivery.next_attempt_at - timezone.now()
        assert services.delivery_send(delivery_id=delivery.pk, now=delivery.next_attempt_at) == "pending"
        delivery.refresh_from_db()
        assert delivery.attempts == 2
        assert delivery.next_attempt_at - timezone.now() > first_wait
    finally:
        smtp_sink.up()
    # The retry's task message runs when due.
    delivery.refresh_from_db()
    assert services.delivery_send(delivery_id=delivery.pk, now=delivery.next_attempt_at) == "sent"
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.sent_at is not None
    assert delivery.error == ""
    assert [body_text(m).strip() for m in smtp_sink.received(to="reader@example.org")] == ["The body of the email."]
    # A duplicated task message, the beat task again: nothing more is sent.
    assert services.delivery_send(delivery_id=delivery.pk, now=_later(120)) == "sent"
    assert services.deliveries_resume(now=_later(180)) == 0
    assert len(smtp_sink.received(to="reader@example.org")) == 1


def test_a_temporary_answer_4xx_is_retried(smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any) -> None:
    smtp_sink.reject("451 4.3.0 Mailbox temporarily unavailable")
    with django_capture_on_commit_callbacks(execute=True):
        delivery = _enqueue()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert "451" in delivery.error
    smtp_sink.reject(None)
    assert services.delivery_send(delivery_id=delivery.pk, now=delivery.next_attempt_at) == "sent"
    assert len(smtp_sink.received(to="reader@example.org")) == 1


def test_retries_back_off_exponentially_for_at_least_24_hours_then_the_delivery_fails(
    settings: Any, smtp_sink: SmtpSink
) -> None:
    assert settings.MAIL_RETRY_HOURS >= 24
    smtp_sink.down()
    try:
        delivery = _enqueue()
        at, waits = delivery.due_at, []
        for _attempt in range(6):
            assert services.delivery_send(delivery_id=delivery.pk, now=at) == "pending"
            delivery.refresh_from_db()
            waits.append((delivery.next_attempt_at - at).total_seconds())
            at = delivery.next_attempt_at
        assert waits == [30, 60, 120, 240, 480, 600]  # doubling, capped (a delayed message stays short)
        almost_a_day = delivery.due_at + timedelta(hours=23, minutes=59)
        assert services.delivery_send(delivery_id=delivery.pk, now=almost_a_day) == "pending"
        past_window = delivery.due_at + timedelta(hours=settings.MAIL_RETRY_HOURS)
        assert services.delivery_send(delivery_id=delivery.pk, now=past_window) == "failed"
    finally:
        smtp_sink.up()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert "ConnectionRefusedError" in delivery.error
    assert smtp_sink.received(to="reader@example.org") == []


def test_a_permanent_rejection_is_recorded_with_the_servers_answer(
    smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    smtp_sink.reject("550 5.1.1 No such user here")
    with django_capture_on_commit_callbacks(execute=True):
        delivery = _enqueue(to="nobody@example.org")
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.failed_at is not None
    assert "550" in delivery.error
    assert "No such user here" in delivery.error
    # Not retried by the beat task.
    assert services.deliveries_resume(now=_later(60)) == 0


def test_an_invalid_address_fails_for_good_without_retrying(smtp_sink: SmtpSink) -> None:
    delivery = _enqueue(to="broken\naddress@example.org")
    assert services.delivery_send(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert "ValueError" in delivery.error


def test_the_sent_hooks_hear_of_each_sent_email_and_a_failing_one_never_makes_it_go_twice(
    smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mindomo.outbox import hooks

    heard: list[tuple[int, Any]] = []

    def broken(delivery: Delivery, sent_at: Any) -> None:
        Delivery.objects.filter(pk=delivery.pk).update(error="half-done write of a broken hook")
        raise RuntimeError("a hook that fails")

    monkeypatch.setattr(hooks.delivery_sent, "_functions", [broken, lambda d, at: heard.append((d.pk, at))])
    delivery = _enqueue()

    assert services.delivery_send(delivery_id=delivery.pk) == "sent"

    delivery.refresh_from_db()
    assert (delivery.status, delivery.error) == (Delivery.Status.SENT, "")  # the broken hook's write rolled back
    assert heard == [(delivery.pk, delivery.sent_at)]
    assert services.delivery_send(delivery_id=delivery.pk) == "sent"  # a redelivered message: nothing more
    assert len(smtp_sink.received(to="reader@example.org")) == 1
    assert len(heard) == 1


def test_a_fresh_claim_stops_a_second_worker_and_a_stale_one_is_sent_again(settings: Any, smtp_sink: SmtpSink) -> None:
    delivery = _enqueue()
    claimed = services._claim(delivery_id=delivery.pk, now=timezone.now())  # worker A, then it "crashes"
    assert claimed is not None
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENDING
    # Worker B gets a duplicate message while A's claim is fresh: it sends nothing.
    assert services.delivery_send(delivery_id=delivery.pk) == "sending"
    assert services.deliveries_resume() == 0
    assert smtp_sink.received(to="reader@example.org") == []
    # A's claim times out: the beat task hands it to another worker, which sends it.
    later = timezone.now() + timedelta(seconds=settings.OUTBOX_CLAIM_TIMEOUT_SECONDS + 1)
    assert services.deliveries_resume(now=later) == 1
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT
    assert len(smtp_sink.received(to="reader@example.org")) == 1


def test_a_lost_task_message_is_published_again_by_the_beat_task(settings: Any, smtp_sink: SmtpSink) -> None:
    delivery = _enqueue()  # no on_commit run: as if Redis lost the message
    assert services.deliveries_resume() == 0  # its message could still be on its way
    later = timezone.now() + timedelta(seconds=settings.OUTBOX_LOST_AFTER_SECONDS + 1)
    assert services.deliveries_resume(now=later) == 1
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SENT
    assert len(smtp_sink.received(to="reader@example.org")) == 1


def test_a_delivery_due_later_is_published_when_due(settings: Any, smtp_sink: SmtpSink) -> None:
    due = timezone.now() + timedelta(days=1)
    delivery = _enqueue(due_at=due)
    assert delivery.queued_for is None  # not a day-long delayed message in the broker
    assert services.deliveries_resume(now=due - timedelta(minutes=1)) == 0
    assert services.delivery_send(delivery_id=delivery.pk) == "pending"  # early message: not due
    assert services.deliveries_resume(now=due) == 1
    assert Delivery.objects.get(pk=delivery.pk).queued_for == due
    # Its message runs (at ``due``): sent.
    assert services.delivery_send(delivery_id=delivery.pk, now=due) == "sent"
    assert len(smtp_sink.received(to="reader@example.org")) == 1


def test_an_expired_delivery_is_cancelled_not_sent(smtp_sink: SmtpSink) -> None:
    delivery = _enqueue(expires_at=timezone.now() + timedelta(minutes=15))
    assert services.delivery_send(delivery_id=delivery.pk, now=_later(16)) == "cancelled"
    assert smtp_sink.received(to="reader@example.org") == []


def test_forget_when_sent_leaves_no_row(smtp_sink: SmtpSink) -> None:
    delivery = _enqueue(to="gone@example.org", forget_when_sent=True)
    assert tables_containing("gone@example.org") == {"outbox_delivery": ["to_email"]}
    assert services.delivery_send(delivery_id=delivery.pk) == "sent"
    assert tables_containing("gone@example.org") == {}
    assert len(smtp_sink.received(to="gone@example.org")) == 1


def test_the_attachment_and_the_html_part_are_sent(smtp_sink: SmtpSink) -> None:
    from django.core.mail import EmailMultiAlternatives

    message = EmailMultiAlternatives(subject="Invoice", body="Text part", to=["buyer@example.org"])
    message.attach_alternative("<p>HTML part</p>", "text/html")
    message.attach("INV-1.pdf", b"%PDF-1.4 fake", "application/pdf")
    delivery = services.delivery_enqueue(kind="test.attachment", message=message)
    assert services.delivery_send(delivery_id=delivery.pk) == "sent"
    [received] = smtp_sink.received(to="buyer@example.org")
    html = received.get_body(preferencelist=("html",))
    assert html is not None
    assert "HTML part" in str(html.get_content())
    [pdf] = list(received.iter_attachments())
    assert pdf.get_filename() == "INV-1.pdf"
    assert pdf.get_content() == b"%PDF-1.4 fake"


def test_the_language_active_when_it_was_caused_is_kept() -> None:
    from django.utils import translation

    with translation.override("de"):
        delivery = _enqueue()
    assert delivery.language == "de"


# --- privacy ------------------------------------------------------------------------------------------
def test_the_outbox_is_declared_exported_and_erased_with_its_person(smtp_sink: SmtpSink) -> None:
    assert "outbox" in [p.name for p in registry.providers()]
    person = UserFactory(email="quillon.vex@example.org")
    other = _enqueue(to="someone.else@example.org")
    _enqueue(to="QUILLON.VEX@example.org")  # by address, any case
    _enqueue(to="parent.of.someone@example.org", user=person)  # about them
    provider = OutboxPrivacyProvider()
    exported = provider.export(person)["emails"]
    assert sorted(e["to"] for e in exported) == ["QUILLON.VEX@example.org", "parent.of.someone@example.org"]
    assert set(tables_containing("quillon.vex")) >= {"outbox_delivery"}
    provider.erase(person)
    assert list(Delivery.objects.values_list("pk", flat=True)) == [other.pk]
    assert "outbox_delivery" not in tables_containing("quillon.vex")


def test_sent_emails_are_purged_by_the_retention_engine_after_the_declared_period(
    settings: Any, smtp_sink: SmtpSink
) -> None:
    from privacy.services import retention_apply

    old, fresh, pending = _enqueue(), _enqueue(), _enqueue()
    for delivery in (old, fresh):
        services.delivery_send(delivery_id=delivery.pk)
    Delivery.objects.filter(pk=old.pk).update(
        sent_at=timezone.now() - timedelta(days=settings.OUTBOX_SENT_RETENTION_DAYS, minutes=1)
    )
    outcomes = {o.rule.name: o.count for o in retention_apply()}
    assert outcomes["outbox.sent"] == 1
    assert sorted(Delivery.objects.values_list("pk", flat=True)) == sorted([fresh.pk, pending.pk])


# --- staff: the admin ---------------------------------------------------------------------------------
@pytest.fixture
def failed_delivery(smtp_sink: SmtpSink) -> Delivery:
    smtp_sink.reject("550 5.1.1 Mailbox unavailable: nobody@example.org")
    delivery = _enqueue(to="nobody@example.org")
    services.delivery_send(delivery_id=delivery.pk)
    smtp_sink.reject(None)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    return delivery


def test_staff_see_a_permanent_failure_with_the_answer_in_the_changelist(
    failed_delivery: Delivery, privacy_officer_user: Any
) -> None:
    _enqueue(to="waiting@example.org")
    client = Client()
    sign_in(client, privacy_officer_user)
    response = client.get(reverse("admin:outbox_delivery_changelist"), {"status__exact": "failed"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "nobody@example.org" in page
    assert "550 5.1.1 Mailbox unavailable" in page
    assert "waiting@example.org" not in page  # the filter by status
    detail = client.get(reverse("admin:outbox_delivery_change", args=[failed_delivery.pk]))
    assert detail.status_code == 200
    assert "550 5.1.1" in detail.content.decode()


@pytest.mark.parametrize(
    ("role", "sees", "retries"),
    [
        ("privacy_officer_user", True, True),
        ("support_user", True, False),
        ("billing_clerk_user", False, False),
        ("staff_without_role", False, False),
        ("member", False, False),
    ],
)
def test_who_sees_and_retries_failed_emails(
    request: pytest.FixtureRequest,
    failed_delivery: Delivery,
    smtp_sink: SmtpSink,
    django_capture_on_commit_callbacks: Any,
    role: str,
    sees: bool,
    retries: bool,
) -> None:
    client = Client()
    sign_in(client, request.getfixturevalue(role))
    url = reverse("admin:outbox_delivery_changelist")
    listing = client.get(url)
    assert (listing.status_code == 200) is sees
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "retry", "_selected_action": [failed_delivery.pk]})
    failed_delivery.refresh_from_db()
    if retries:
        assert response.status_code == 302
        assert failed_delivery.status == Delivery.Status.SENT
        assert len(smtp_sink.received(to="nobody@example.org")) == 1
    else:
        assert failed_delivery.status == Delivery.Status.FAILED
        assert smtp_sink.received(to="nobody@example.org") == []


def test_nobody_edits_or_deletes_a_delivery_in_the_admin(failed_delivery: Delivery, superuser_client: Client) -> None:
    change = reverse("admin:outbox_delivery_change", args=[failed_delivery.pk])
    superuser_client.post(change, {"to_email": "changed@example.org", "status": "sent"})
    superuser_client.post(reverse("admin:outbox_delivery_delete", args=[failed_delivery.pk]), {"post": "yes"})
    failed_delivery.refresh_from_db()
    assert failed_delivery.to_email == "nobody@example.org"
    assert failed_delivery.status == Delivery.Status.FAILED
    assert superuser_client.get(reverse("admin:outbox_delivery_add")).status_code == 403


# --- with the real Celery worker: the outage once, end to end ---------------------------------------------
class FinishedTasks:
    def __init__(self) -> None:
        self.counts: defaultdict[str, int] = defaultdict(int)
        self.changed = threading.Condition()

    def __call__(self, sender: Any = None, **kwargs: Any) -> None:
        with self.changed:
            self.counts[sender.name] += 1
            self.changed.notify_all()

    def wait(self, name: str, count: int, timeout: float = 30) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.counts[name] >= count, timeout=timeout)


@pytest.fixture
def finished_tasks() -> Iterator[FinishedTasks]:
    finished = FinishedTasks()
    task_postrun.connect(finished, weak=False)
    yield finished
    task_postrun.disconnect(finished)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_with_the_worker_an_email_due_during_an_outage_arrives_once_when_the_server_returns(
    real_celery_worker: Any, smtp_sink: SmtpSink, finished_tasks: FinishedTasks, settings: Any
) -> None:
    settings.MAIL_RETRY_BASE_SECONDS = 1
    settings.MAIL_RETRY_MAX_SECONDS = 2
    settings.MAIL_SEND_TIMEOUT_SECONDS = 2  # a server that accepts no connection times out as quickly
    name = "mindomo.outbox.tasks.delivery_send_task"
    smtp_sink.down()
    try:
        with transaction.atomic():
            delivery = _enqueue(to="outage@example.org")
        assert finished_tasks.wait(name, 2)  # the first attempt and one retry, both refused
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.attempts >= 2
        assert "ConnectionRefusedError" in delivery.error
    finally:
        smtp_sink.up()
    smtp_sink.wait_for(to="outage@example.org", subject_contains="Hello")
    # The server took the email; the task then records it. Wait for that record, not for a count of task runs:
    # on a loaded machine another refused retry may run between the reading above and the server's return.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status not in (Delivery.Status.PENDING, Delivery.Status.SENDING):
            break
        time.sleep(0.05)
    assert delivery.status == Delivery.Status.SENT
    assert len(smtp_sink.received(to="outage@example.org")) == 1


def test_deliveries_enqueued_together_are_one_insert_and_one_message_per_chunk_each_sent_once(
    smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from mindomo.outbox import tasks

    published: list[list[int]] = []
    original = tasks.deliveries_send_task.apply_async

    def counting(args: Any, **options: Any) -> Any:
        published.append(list(args[0]))
        return original(args, **options)

    monkeypatch.setattr(tasks.deliveries_send_task, "apply_async", counting)
    monkeypatch.setattr(services, "PUBLISH_CHUNK", 2)
    messages = [
        (EmailMessage(subject="Hello", body="The body.", to=[f"parent{n}@example.org"]), "en") for n in range(5)
    ]
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        deliveries = services.deliveries_enqueue(kind="test.hello", messages=messages)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "outbox_delivery"')]
    assert len(inserts) == 1
    assert published == [[d.pk for d in deliveries[i : i + 2]] for i in (0, 2, 4)]
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    for delivery in deliveries:  # a duplicate message sends nothing twice
        assert services.delivery_send(delivery_id=delivery.pk) == Delivery.Status.SENT
    assert [len(smtp_sink.received(to=f"parent{n}@example.org")) for n in range(5)] == [1] * 5


def test_forgetting_by_a_prefix_and_keys_deletes_exactly_those_references() -> None:
    kept = _enqueue(reference="consent.pending:3")
    gone = [_enqueue(reference=f"consent.pending:{pk}") for pk in (1, 2, 20)]
    other = _enqueue(reference="grading.join:1")

    assert services.deliveries_forget(prefix="consent.pending:", keys="1\n2\n20\n99") == 3

    remaining = set(Delivery.objects.values_list("pk", flat=True))
    assert remaining == {kept.pk, other.pk}
    assert not remaining & {d.pk for d in gone}
    assert services.deliveries_forget(prefix="consent.pending:", keys="") == 0
    with pytest.raises(ValueError, match="not both"):
        services.deliveries_forget(references=["a"], prefix="consent.pending:", keys="1")


def test_a_delivery_due_now_is_published_without_an_eta_and_a_later_one_with_its_countdown(
    django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from mindomo.outbox import tasks

    published: list[dict[str, Any]] = []
    monkeypatch.setattr(tasks.delivery_send_task, "apply_async", lambda args, **options: published.append(options))
    with django_capture_on_commit_callbacks(execute=True):
        _enqueue(to="now@example.org")
        _enqueue(to="soon@example.org", due_at=_later(2))
    now, soon = published
    assert now == {}  # an ETA costs a third more to publish and the worker holds the message apart
    assert 100 < soon["countdown"] <= 120
