"""Expiry of pending child sign-ups and the half-TTL reminder: set-based, batched, idempotent, safe to
run twice at once; the management command; and a real Celery worker on Redis deleting every trace."""

from __future__ import annotations

import math
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from celery.signals import task_postrun
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent import ledger, services
from consent.models import AgeRule, LedgerEntry, PendingSignup
from consent.reference_data import ensure_loaded
from mindomo import bulk
from tests.consent.helpers import pass_age_gate
from tests.support.dbscan import tables_containing
from tests.support.smtp import SmtpSink, body_text

pytestmark = pytest.mark.django_db


def make_pending(count: int, *, created: datetime, ttl: timedelta = timedelta(days=7)) -> list[PendingSignup]:
    """Rows as the service writes them (sealed with a throwaway key), created at ``created``."""
    rule = AgeRule.objects.get(country="US", superseded_at__isnull=True)
    rows = [
        PendingSignup(
            public_id=secrets.token_urlsafe(18),
            login_digest=services.login_digest(f"kid-{created.timestamp()}-{n}"),
            sealed="gAAAA-sealed",
            parent_email=f"parent{n}@example.org",
            country="US",
            rule=rule,
            consent_month=created.date().replace(day=1) + timedelta(days=400),
            created_at=created,
            expires_at=created + ttl,
            reminder_due_at=created + ttl / 2,
        )
        for n in range(count)
    ]
    return PendingSignup.objects.bulk_create(rows)


@pytest.fixture(params=["index", "blocks"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test below runs the expiry both ways: through the expiry index (a few rows due) and by block
    ranges (what PostgreSQL's planner chooses when it would read the whole table: here, once the table is
    analysed, for any number of rows)."""
    if request.param == "blocks":
        monkeypatch.setattr(bulk, "BLOCKS_MIN_ROWS", 1)
    return str(request.param)


def _ready(path: str, now: datetime) -> None:
    """Statistics for the planner (the block path plans with them), and the path the test asked for."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE consent_pendingsignup")
    queryset = services.pending_signups_expired(now)
    where, params = bulk._filter(queryset) or ("", [])
    planned = bulk.extent(queryset, where, params)
    by_blocks = planned is not None and planned.sequential and planned.due >= bulk.BLOCKS_MIN_ROWS
    assert by_blocks == (path == "blocks"), planned


def test_expiry_deletes_every_request_past_the_ttl_and_keeps_the_others() -> None:
    now = timezone.now()
    subjects = {p.ledger_subject for p in make_pending(5, created=now - timedelta(days=8))}
    fresh = make_pending(2, created=now - timedelta(days=6))

    deleted = services.pending_signups_expire(now=now, batch_size=2)

    assert deleted == 5
    assert set(PendingSignup.objects.values_list("pk", flat=True)) == {p.pk for p in fresh}
    # one ledger entry per batch (2, 2, 1), naming the batch's pseudonyms
    batches = list(LedgerEntry.objects.filter(kind="expired").order_by("seq"))
    assert [entry.detail["count"] for entry in batches] == [2, 2, 1]
    assert {s for entry in batches for s in ledger.batch_subjects(entry)} == subjects
    assert services.pending_signups_expire(now=now) == 0  # idempotent


def test_the_retention_engine_expires_exactly_what_its_dry_run_lists() -> None:
    from privacy.services import retention_apply

    now = timezone.now()
    expired = make_pending(3, created=now - timedelta(days=8))
    fresh = make_pending(1, created=now - timedelta(days=1))

    (dry,) = retention_apply(now=now, dry_run=True, rules=["consent.pending_signups"])
    assert set(dry.pks) == {p.pk for p in expired}
    (real,) = retention_apply(now=now, batch_size=2, rules=["consent.pending_signups"])

    assert real.count == 3
    assert list(PendingSignup.objects.values_list("pk", flat=True)) == [fresh[0].pk]
    assert tables_containing("parent0@example.org") == {"consent_pendingsignup": ["parent_email"]}


def test_expiry_is_set_based_its_queries_do_not_grow_with_the_rows(django_assert_max_num_queries: Any) -> None:
    now = timezone.now()
    make_pending(300, created=now - timedelta(days=8))

    with django_assert_max_num_queries(12):
        assert services.pending_signups_expire(now=now) == 300


@pytest.mark.django_db(transaction=True)
def test_two_expiry_runs_at_once_delete_each_request_once(path: str) -> None:
    ensure_loaded()
    now = timezone.now()
    make_pending(400, created=now - timedelta(days=9))
    _ready(path, now)
    counts: list[int] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            counts.append(services.pending_signups_expire(now=now, batch_size=50))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == 400
    assert len(counts) == 2
    assert PendingSignup.objects.count() == 0


def _someone_waits_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('transactionid', 'tuple')")
        row = cursor.fetchone()
    return bool(row and row[0])


def _expiry_meets_a_parent(answer: str, path: str) -> tuple[int, set[str], PendingSignup]:
    """A parent's answer holds one expired request's row (as ``pending_signup_approve`` does: the row locked
    FOR UPDATE, then deleted, or left) while the expiry runs on another connection; the parent's transaction
    ends (``answer``) only once the expiry waits for that row. Returns the expiry's count, the subjects its
    ledger entries name, and the request the parent held."""
    ensure_loaded()
    now = timezone.now()
    rows = make_pending(3, created=now - timedelta(days=9))
    _ready(path, now)
    held = rows[1]
    locked, go = threading.Event(), threading.Event()
    counts: list[int] = []

    def parent() -> None:
        try:
            with transaction.atomic():
                pending = PendingSignup.objects.select_for_update().get(pk=held.pk)
                locked.set()
                go.wait(timeout=30)
                if answer == "approved":
                    pending.delete()  # the child's account is created, the request goes
                elif answer == "resent":
                    PendingSignup.objects.filter(pk=held.pk).update(expires_at=now + timedelta(days=7))
                else:
                    transaction.set_rollback(True)  # the approval failed (say, the login was taken)
        finally:
            connection.close()

    def expiry() -> None:
        try:
            counts.append(services.pending_signups_expire(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=parent), threading.Thread(target=expiry)]
    threads[0].start()
    assert locked.wait(timeout=30)
    threads[1].start()
    waited = False
    for _attempt in range(300):
        if _someone_waits_for_a_row_lock():
            waited = True
            break
        threading.Event().wait(0.05)
    go.set()
    for thread in threads:
        thread.join(timeout=60)
    assert waited, "the expiry never waited for the parent's row"
    expired = {
        subject for entry in LedgerEntry.objects.filter(kind="expired") for subject in ledger.batch_subjects(entry)
    }
    return counts[0], expired, held


@pytest.mark.django_db(transaction=True)
def test_a_parent_who_approves_while_the_expiry_waits_wins_and_the_ledger_does_not_say_expired(path: str) -> None:
    count, expired, held = _expiry_meets_a_parent("approved", path)

    assert count == 2
    assert held.ledger_subject not in expired
    assert len(expired) == 2
    assert PendingSignup.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_parent_answer_that_rolled_back_leaves_the_request_to_the_expiry(path: str) -> None:
    count, expired, held = _expiry_meets_a_parent("rolled back", path)

    assert count == 3
    assert held.ledger_subject in expired
    assert PendingSignup.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_request_renewed_while_the_expiry_waits_is_not_deleted_on_its_old_date(path: str) -> None:
    count, expired, held = _expiry_meets_a_parent("resent", path)

    assert count == 2
    assert held.ledger_subject not in expired
    assert list(PendingSignup.objects.values_list("pk", flat=True)) == [held.pk]


def test_a_backlog_goes_by_block_ranges_one_statement_each_and_every_expiry_stays_provable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from consent import ledger

    monkeypatch.setattr(bulk, "BLOCKS_MIN_ROWS", 1)
    now = timezone.now()
    fresh = make_pending(40, created=now - timedelta(days=1))
    expired = make_pending(300, created=now - timedelta(days=8))
    fresh += make_pending(40, created=now - timedelta(days=2))
    _ready("blocks", now)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, reltuples FROM pg_class WHERE relname = 'consent_pendingsignup'")
        (pages, tuples) = cursor.fetchone()
    assert pages >= 4  # several ranges
    # a range spans at most the blocks that hold BLOCKS_MAX_FACTOR batches' rows of the table (on average: the
    # rows of a batch follow how densely the range's blocks hold due rows, so the bound is on the blocks)
    most = bulk.BLOCKS_MAX_FACTOR * math.ceil(50 / (tuples / pages))

    with CaptureQueriesContext(connection) as queries:
        assert services.pending_signups_expire(now=now, batch_size=50) == 300

    assert set(PendingSignup.objects.values_list("pk", flat=True)) == {p.pk for p in fresh}
    statements = [q["sql"] for q in queries.captured_queries]
    assert "EXPLAIN (FORMAT JSON) SELECT ctid" in statements[0]  # the planner's choice, asked once
    deletes = [sql for sql in statements[1:] if 'DELETE FROM "consent_pendingsignup"' in sql]
    # each range: the lock, then one DELETE by its blocks (sent together), the last range open-ended
    assert len(deletes) >= 2
    assert all(sql.startswith("SELECT pg_advisory_xact_lock") and "ctid >= '(" in sql for sql in deletes)
    assert all("ctid < '(" in sql for sql in deletes[:-1])
    assert "ctid < '(" not in deletes[-1]
    ranges = [re.search(r"ctid >= '\((\d+),0\)'::tid AND ctid < '\((\d+),0\)'::tid", sql) for sql in deletes[:-1]]
    spans = [int(found.group(2)) - int(found.group(1)) for found in ranges if found is not None]
    assert len(spans) == len(deletes) - 1
    assert all(1 <= span <= most for span in spans), (spans, most)
    assert [int(found.group(1)) for found in ranges[1:] if found] == [
        int(found.group(2)) for found in ranges[:-1] if found
    ]  # each range starts where the one before ended: every block is read once
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN DELETE FROM consent_pendingsignup WHERE ctid >= '(1,0)'::tid AND ctid < '(2,0)'::tid "
            "AND expires_at <= now()"
        )
        assert "Tid Range Scan" in "\n".join(row[0] for row in cursor.fetchall())
    entries = list(LedgerEntry.objects.filter(kind="expired").order_by("seq"))
    assert len(entries) >= 2
    named = [subject for entry in entries for subject in ledger.batch_subjects(entry)]
    assert sorted(named) == sorted(p.ledger_subject for p in expired)
    for pending in expired[::37]:
        entry = ledger.batch_entry_for(pending.ledger_subject, kind="expired")
        assert entry is not None
        assert ledger.proof_verify(ledger.subject_proof(pending.ledger_subject, entry), entry)
    assert ledger.verify_chain().ok
    assert services.pending_signups_expire(now=now) == 0


def test_the_management_command_runs_the_same_expiry() -> None:
    now = timezone.now()
    make_pending(3, created=now - timedelta(days=8))
    make_pending(1, created=now)
    out = StringIO()

    call_command("consent_expire_pending", stdout=out)

    assert "Deleted 3 expired" in out.getvalue()
    assert PendingSignup.objects.count() == 1


def test_one_reminder_at_half_the_ttl_without_the_link(django_capture_on_commit_callbacks: Any) -> None:
    now = timezone.now()
    (due,) = make_pending(1, created=now - timedelta(days=4))
    make_pending(1, created=now - timedelta(days=1))  # not yet due

    with django_capture_on_commit_callbacks(execute=True):
        assert services.pending_signups_remind(now=now) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.pending_signups_remind(now=now) == 0  # only one reminder

    (message,) = mail.outbox
    assert message.to == [due.parent_email]
    assert "/consent/parent/" not in message.body
    assert "/consent/parent/" not in str(message.alternatives[0][0])
    assert "earlier email" in message.body
    assert "sent again" in message.body
    due.refresh_from_db()
    assert due.reminder_due_at is None


# --- a real Celery worker on Redis ---------------------------------------------------------------------
class FinishedTasks:
    """Events set by Celery's task_postrun signal when the worker has run a task (awaited, not slept)."""

    def __init__(self) -> None:
        self.events: defaultdict[str, threading.Event] = defaultdict(threading.Event)

    def __call__(self, sender: Any = None, **kwargs: Any) -> None:
        self.events[sender.name].set()

    def wait(self, name: str, timeout: float = 20) -> bool:
        return self.events[name].wait(timeout)


@pytest.fixture
def finished_tasks() -> Iterator[FinishedTasks]:
    finished = FinishedTasks()
    task_postrun.connect(finished, weak=False)
    yield finished
    task_postrun.disconnect(finished)


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_after_the_ttl_no_table_holds_the_parent_email_or_the_child_login(
    real_celery_worker: Any, smtp_sink: SmtpSink, finished_tasks: FinishedTasks
) -> None:
    ensure_loaded()
    browser = Client()
    pass_age_gate(browser, age=10, country="US")
    browser.post(
        reverse("consent:child_signup"),
        {
            "login": "zelda.in.the.attic",
            "password1": "purple-giraffe-runs-42",
            "password2": "purple-giraffe-runs-42",
            "parent_email": "guardian.of.zelda@example.org",
        },
    )
    message = smtp_sink.wait_for(to="guardian.of.zelda@example.org", subject_contains="permission")
    assert "/consent/parent/" in body_text(message)  # the worker emailed the key; the database never had it
    assert tables_containing("guardian.of.zelda") == {"consent_pendingsignup": ["parent_email"]}
    assert tables_containing("zelda.in.the.attic") == {}

    # The TTL passes.
    now = timezone.now()
    PendingSignup.objects.update(created_at=now - timedelta(days=7, minutes=1), expires_at=now - timedelta(minutes=1))
    from consent.tasks import pending_signups_expire_task

    pending_signups_expire_task.delay()
    assert finished_tasks.wait("consent.tasks.pending_signups_expire_task")

    assert PendingSignup.objects.count() == 0
    assert tables_containing("guardian.of.zelda") == {}
    assert tables_containing("zelda.in.the.attic") == {}
    assert LedgerEntry.objects.filter(kind="expired").count() == 1


def _emails_about(pendings: list[PendingSignup]) -> list[int]:
    """A queued email (with an attachment) about each request, as the outbox keeps them (by its reference)."""
    from consent import emails
    from mindomo.outbox.models import Delivery, DeliveryAttachment

    now = timezone.now()
    ids = []
    for pending in pendings:
        delivery = Delivery.objects.create(
            kind="consent_reminder",
            to_email=pending.parent_email,
            from_email="noreply@example.org",
            subject="Your child asked to join",
            text_body="...",
            reference=emails.pending_reference(pending.pk),
            due_at=now,
            next_attempt_at=now,
        )
        DeliveryAttachment.objects.create(delivery=delivery, filename="a.txt", mimetype="text/plain", content=b"x")
        ids.append(delivery.pk)
    return ids


def test_the_expired_requests_emails_are_forgotten_by_the_batch_statement_itself(path: str) -> None:
    from mindomo.outbox.models import Delivery, DeliveryAttachment

    ensure_loaded()
    now = timezone.now()
    expired = make_pending(120, created=now - timedelta(days=8))
    fresh = make_pending(30, created=now - timedelta(days=1))
    _ready(path, now)
    gone = _emails_about(expired)
    kept = _emails_about(fresh)

    with CaptureQueriesContext(connection) as queries:
        assert services.pending_signups_expire(now=now, batch_size=50) == 120

    assert set(Delivery.objects.values_list("pk", flat=True)) == set(kept)
    assert set(DeliveryAttachment.objects.values_list("delivery_id", flat=True)) == set(kept)
    statements = [q["sql"] for q in queries.captured_queries]
    deletes = [sql for sql in statements if 'DELETE FROM "consent_pendingsignup"' in sql]
    assert len(deletes) >= 2  # batches of about 50 (a block range may hold up to twice as many)
    # no statement of its own: each batch's DELETE forgets its requests' emails, the ids never come back
    assert all('DELETE FROM "outbox_delivery"' in sql for sql in deletes)
    assert not [sql for sql in statements if "outbox_delivery" in sql and sql not in deletes]
    assert not any('string_agg("id"' in sql for sql in deletes)
    assert not Delivery.objects.filter(pk__in=gone).exists()


def test_an_after_delete_that_wraps_the_expiry_s_still_forgets_the_emails() -> None:
    """Called from another ``after_delete`` (the batch statement did not run its CTEs), the expiry's
    ``after_delete`` forgets the emails itself, from the ids the statement then returned."""
    from mindomo.outbox.models import Delivery

    ensure_loaded()
    now = timezone.now()
    expired = make_pending(5, created=now - timedelta(days=8))
    fresh = make_pending(2, created=now - timedelta(days=1))
    _emails_about(expired)
    kept = _emails_about(fresh)
    seen: list[int] = []

    def wrapped(batch: bulk.Batch) -> None:
        seen.append(batch.count)
        services.pending_signups_expired_logged(batch)

    deleted = bulk.delete_in_batches(
        services.pending_signups_expired(now),
        key=services.EXPIRY_KEY,
        size=2,
        returning=services.EXPIRY_RETURNING,
        after_delete=wrapped,
        lock=services.EXPIRY_LOCK,
    )

    assert deleted == 5
    assert seen == [2, 2, 1]
    assert set(Delivery.objects.values_list("pk", flat=True)) == set(kept)
    assert LedgerEntry.objects.filter(kind="expired").count() == 3
