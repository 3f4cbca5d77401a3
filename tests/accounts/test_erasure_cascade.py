"""The user row's deletion in one round trip (``mindomo.cascade``): it deletes and detaches exactly what Django's
deletion collector would, declines where only the collector is right (delete receivers), and when it is wrong
anyway the database's deferred foreign keys refuse the commit and the erasure falls back to the collector."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import Any

import pytest
from allauth.account.models import EmailAddress, EmailConfirmation
from django.contrib.auth.models import Group
from django.db import connection, connections, router, transaction
from django.db.models import Model, signals
from django.db.models.deletion import Collector
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.models import AccountDeletionRequest, DataExport, ErasureStep, User
from billing.models import Invoice
from grading.models import Grade
from mindomo import bulk, cascade, prepared
from mindomo.privacy import registry
from privacy.models import AccessLog
from tests.accounts.factories import UserFactory
from tests.billing.helpers import paid_invoice
from tests.grading.factories import AssignmentFactory, EnrollmentFactory, GradeFactory, SchoolClassFactory


def _user_everywhere() -> tuple[User, User]:
    """A user who is a student, a teacher, a grader, a buyer and (once) a staff member, and a bystander who
    shares their class."""
    user, bystander = UserFactory(), UserFactory()
    address, _created = EmailAddress.objects.get_or_create(user=user, email=user.email)
    EmailConfirmation.objects.create(email_address=address, key=f"k{user.pk}", sent=timezone.now())
    user.groups.add(Group.objects.create(name=f"cascade-{user.pk}"))
    taught = SchoolClassFactory(teacher=user)
    EnrollmentFactory(school_class=taught, student=bystander)
    GradeFactory(student=bystander, assignment=AssignmentFactory(school_class=taught), graded_by=user)
    GradeFactory(student=user)
    EnrollmentFactory(student=user)
    paid_invoice(user)
    AccessLog.objects.create(staff=user, staff_label="x", action="view", model="accounts.user", object_id="1")
    return user, bystander


def _collector_plan(user: User) -> tuple[dict[type[Model], set[Any]], list[tuple[type[Model], str, set[Any]]]]:
    """What Django's collector would delete (pks per model) and set to NULL (model, field, pks)."""
    collector = Collector(using=router.db_for_write(User), origin=user)
    collector.collect([user])
    deleted: dict[type[Model], set[Any]] = {}
    for model, instances in collector.data.items():
        deleted.setdefault(model, set()).update(obj.pk for obj in instances)
    for qs in collector.fast_deletes:
        deleted.setdefault(qs.model, set()).update(qs.values_list("pk", flat=True))
    nulled = []
    for (field, _value), instances in collector.field_updates.items():
        for queryset in instances:
            pks = set(queryset.values_list("pk", flat=True)) if hasattr(queryset, "values_list") else {queryset.pk}
            nulled.append((field.model, field.attname, pks))
    return deleted, nulled


@pytest.mark.django_db
def test_the_one_statement_cascade_deletes_and_detaches_what_the_collector_would() -> None:
    user, bystander = _user_everywhere()
    deleted, nulled = _collector_plan(user)
    assert sum(map(len, deleted.values())) >= 7
    assert len(nulled) >= 3

    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert cascade.delete(User, user.pk)

    assert len(queries.captured_queries) <= 3  # the savepoint, the statements (one string), its release
    for model, pks in deleted.items():
        assert not model._base_manager.filter(pk__in=pks).exists(), model
    for model, attname, pks in nulled:
        rows = model._base_manager.filter(pk__in=pks)
        assert rows.count() == len(pks), (model, attname)
        assert not rows.exclude(**{f"{attname}__isnull": True}).exists(), (model, attname)
    assert User.objects.filter(pk=bystander.pk).exists()
    assert Grade.objects.filter(student=bystander).count() == 1  # the bystander's grade stays, ungraded-by
    assert Invoice.objects.filter(user__isnull=True).count() == 1  # detached, kept


@pytest.mark.django_db
def test_a_delete_receiver_makes_the_cascade_decline_so_the_collector_runs_it() -> None:
    user, _bystander = _user_everywhere()
    heard: list[int] = []

    def receiver(sender: Any, instance: Grade, **kwargs: Any) -> None:
        heard.append(instance.pk)

    signals.pre_delete.connect(receiver, sender=Grade)
    try:
        assert not cascade.delete(User, user.pk)
        User.objects.filter(pk=user.pk).delete()  # what the accounts provider then does
    finally:
        signals.pre_delete.disconnect(receiver, sender=Grade)
    assert heard
    assert not User.objects.filter(pk=user.pk).exists()
    with cascade.collector_only():
        assert not cascade.delete(User, UserFactory().pk)


def test_a_plan_takes_only_an_integer_key() -> None:
    plan = cascade.plan(User)
    assert plan is not None
    with pytest.raises(TypeError):
        plan.sql("1; DROP TABLE accounts_user")  # type: ignore[arg-type]
    assert not bulk.has_dependents(DataExport)  # data_exports_erase deletes its rows by one bare DELETE


def test_the_row_steps_are_one_text_for_every_row_with_the_key_as_a_parameter() -> None:
    first, second = cascade.row_steps(User, 41), cascade.row_steps(User, 42)
    assert first is not None
    assert second is not None
    assert [sql for sql, _params, _hop in first] == [sql for sql, _params, _hop in second]
    assert all(params == [41] * len(params) and params for _sql, params, _hop in first)
    assert [len(params) for _sql, params, _hop in first] == [len(params) for _sql, params, _hop in second]
    assert all(sql.count("%s") == len(params) and "41" not in sql for sql, params, _hop in first)
    assert [hop for _sql, _params, hop in first] == [hop for _sql, _params, hop in second]
    with pytest.raises(TypeError):
        cascade.row_steps(User, "1; DROP TABLE accounts_user")  # type: ignore[arg-type]


@pytest.mark.django_db
def test_an_erasure_at_once_deletes_the_user_row_in_one_round_trip() -> None:
    user, _bystander = _user_everywhere()

    with CaptureQueriesContext(connection) as queries:
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 1")

    assert deletion.state == AccountDeletionRequest.State.ERASED
    # each string as its statements' texts (a prepared one is sent as ``EXECUTE name(values)``)
    statements = [prepared.resolved(q["sql"]) for q in queries.captured_queries]
    user_deletes = [sql for sql in statements if 'DELETE FROM "accounts_user" WHERE' in sql]
    assert len(user_deletes) == 1
    assert "UPDATE" in user_deletes[0]
    assert not [sql for sql in statements if '"account_emailaddress"."id"' in sql]  # no collector reads
    assert len(statements) <= 55
    assert not User.objects.filter(pk=user.pk).exists()
    assert deletion.erased_at is not None
    assert deletion.erased_at <= timezone.now()
    assert set(deletion.steps.values_list("state", flat=True)) == {ErasureStep.State.DONE}


@pytest.mark.django_db(transaction=True)
def test_a_cascade_that_missed_a_row_fails_at_commit_and_the_collector_finishes_the_erasure(
    monkeypatch: Any, caplog: Any
) -> None:
    user, _bystander = _user_everywhere()
    log = AccessLog.objects.get(staff=user)
    real = cascade.plan(User)
    assert real is not None
    # A plan that forgets one table: the access log keeps pointing at the deleted user.
    broken = dataclasses.replace(real, statements=tuple(s for s in real.statements if "privacy_accesslog" not in s))
    monkeypatch.setattr(cascade, "plan", lambda model: broken if model is User else real)

    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 2")

    assert "the single transaction failed" in caplog.text  # the deferred foreign key refused the commit
    assert deletion.state == AccountDeletionRequest.State.ERASED
    assert not User.objects.filter(pk=user.pk).exists()
    log.refresh_from_db()
    assert log.staff_id is None  # the collector detached it
    steps = deletion.steps.all()
    assert {s.state for s in steps} == {ErasureStep.State.DONE}
    assert {s.attempts for s in steps} == {1}
    assert len(steps) == len(registry.providers())


@pytest.mark.django_db(transaction=True)
def test_a_row_nobody_knows_keeps_the_user_row_and_the_erasure_fails_visibly() -> None:
    user, _bystander = _user_everywhere()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE test_cascade_unknown (user_id bigint REFERENCES accounts_user (id) "
            "DEFERRABLE INITIALLY DEFERRED)"
        )
        cursor.execute("INSERT INTO test_cascade_unknown VALUES (%s)", [user.pk])
    try:
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 3")

        assert deletion.state == AccountDeletionRequest.State.FAILED
        assert User.objects.filter(pk=user.pk).exists()  # neither path deletes a row still pointed at
        step = deletion.steps.get(provider="accounts")
        assert step.state == ErasureStep.State.FAILED
        assert "test_cascade_unknown" in step.error
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE test_cascade_unknown")


@pytest.mark.django_db(transaction=True)
def test_a_second_concurrent_opening_finds_the_open_request_and_does_not_open_another(monkeypatch: Any) -> None:
    user = UserFactory()
    opened = threading.Event()
    release = threading.Event()
    results: dict[str, Any] = {}
    real_open = services._erasure_open

    def slow_open(**kwargs: Any) -> Any:
        found = real_open(**kwargs)
        if threading.current_thread().name == "first":
            opened.set()  # its request inserted, not committed yet
            release.wait(10)
        return found

    monkeypatch.setattr(services, "_erasure_open", slow_open)

    def erase(reason: str) -> None:
        try:
            results[reason] = services.account_erase_now(user=user, requested_by="privacy_desk", reason=reason)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            results[reason] = exc
        finally:
            connections.close_all()

    first = threading.Thread(target=erase, args=("first",), name="first")
    first.start()
    assert opened.wait(10)
    second = threading.Thread(target=erase, args=("second",), name="second")
    second.start()
    # the second's opening waits for the first's uncommitted request at the unique index: seen as a backend
    # waiting on a lock before the first is let go (a fixed sleep could let the first finish before it got there)
    deadline = time.monotonic() + 20
    while not _a_backend_waits_on_a_lock():
        assert time.monotonic() < deadline, "the second erasure never reached the first's open request"
        time.sleep(0.05)
    release.set()
    first.join(20)
    second.join(20)

    assert not [r for r in results.values() if isinstance(r, Exception)], results
    assert results["first"].state == AccountDeletionRequest.State.ERASED
    # the second found the request the first opened (erasing: a run in progress) and opened none of its own
    assert results["second"].pk == results["first"].pk
    assert AccountDeletionRequest.objects.count() == 1
    assert not User.objects.filter(pk=user.pk).exists()


def _a_backend_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock')"
        )
        return bool(cursor.fetchone()[0])
