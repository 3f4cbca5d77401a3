"""The erasure pipeline's common case: every provider in one transaction with one update of the step states,
the providers' statements sent together (one round trip); per-provider transactions only after that transaction
failed (tests/accounts/test_deletion.py covers a failing provider's own erase() and the exact retry, this file a
failing statement)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, signals
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.models import AccountDeletionRequest, ErasureStep, SupportInquiry, User, UserSession
from billing.models import BillingEvent, Order
from grading.models import Grade
from mindomo import cascade, prepared, privacy
from mindomo.outbox.models import Delivery
from mindomo.privacy import registry
from tests.accounts.factories import UserFactory
from tests.accounts.test_deletion import _request_deletion, _user_with_data_everywhere
from tests.billing.helpers import paid_invoice
from tests.grading.factories import AssignmentFactory, GradeFactory

pytestmark = pytest.mark.django_db


def test_an_erasure_is_one_transaction_with_one_update_of_the_steps(django_capture_on_commit_callbacks: Any) -> None:
    user = _user_with_data_everywhere()
    deletion = _request_deletion(user, django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        services.account_erasure_run(request_id=deletion.pk, now=deletion.erase_after)

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.ERASED
    # the statements in their order, those sent together (one string) included, each prepared one (``EXECUTE
    # name(values)``) as the text it was prepared with
    statements = [sql for q in queries.captured_queries for sql in prepared.resolved(q["sql"]).split(";\n")]
    step_updates = [sql for sql in statements if sql.startswith('UPDATE "accounts_erasurestep"')]
    assert len(step_updates) == 1
    assert set(deletion.steps.values_list("state", flat=True)) == {ErasureStep.State.DONE}
    assert deletion.steps.count() == len(registry.providers())
    # every provider's work comes before that one update: no step was marked done on its own
    assert statements.index(step_updates[0]) > max(i for i, sql in enumerate(statements) if "grading_grade" in sql)
    assert not Grade.objects.filter(student_id=user.pk).exists()
    assert not User.objects.filter(pk=user.pk).exists()


def test_an_erasure_at_once_sends_every_providers_statements_in_one_round_trip(
    django_capture_on_commit_callbacks: Any,
) -> None:
    user = _user_with_data_everywhere()
    paid_invoice(user)
    UserSession.objects.create(session_key=f"s{user.pk}", session_data="x", expire_date=timezone.now(), user_id=user.pk)

    # the commit callbacks (the confirmation email's sending, by the mail worker in production) are not run here
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks():
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 5")

    assert deletion.state == AccountDeletionRequest.State.ERASED
    # each string as its statements' texts (a prepared one is sent as ``EXECUTE name(values)``)
    sent = [prepared.resolved(q["sql"]) for q in queries.captured_queries]
    batches = [sql for sql in sent if 'DELETE FROM "grading_grade"' in sql]
    assert len(batches) == 1
    batch = batches[0]
    # every provider's work, the steps marked done and the request marked erased: one string, in that order
    order = [
        'FROM "consent_ledgerpseudonym"',
        'UPDATE "billing_invoice"',
        'FROM "grading_grade"',
        'FROM "accounts_supportinquiry"',
        "FROM accounts_usersession",
        'DELETE FROM "accounts_user" WHERE',
        'UPDATE "accounts_erasurestep"',
        'UPDATE "accounts_accountdeletionrequest" SET "state"',
        'INSERT INTO "outbox_delivery"',  # the confirmation email's row: it exists exactly when the erasure does
    ]
    positions = [batch.find(marker) for marker in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    # no provider sent a statement of its own (48 round trips before the statements were sent together)
    assert not [sql for sql in sent if sql is not batch and ("grading_grade" in sql or 'erasurestep" SET' in sql)]
    # the request opened in one round trip, with no read of an open one before it (the INSERT ... ON CONFLICT on
    # the index of open requests says whether one was open): the account deactivated, the request, the steps, the
    # sessions ended
    (opening,) = [sql for sql in sent if "SET is_active = false" in sql]
    assert 'INSERT INTO "accounts_accountdeletionrequest"' in opening
    assert "DELETE FROM accounts_usersession" in opening
    assert 'INSERT INTO "accounts_erasurestep"' in opening
    assert not [sql for sql in sent if sql.startswith('SELECT "id" FROM "accounts_accountdeletionrequest"')]
    # two transactions (savepoints here): the opening, then the erasure with the email's row in its string: six
    # round trips (eight before: the read of an open request, and the email's INSERT after the string, are gone)
    assert len(sent) == 6, sent
    assert (sent.index(opening), sent.index(batch)) == (1, 4)
    assert [sent[n].split(" ")[0] for n in (0, 2, 3, 5)] == ["SAVEPOINT", "RELEASE", "SAVEPOINT", "RELEASE"]
    assert not Grade.objects.filter(student_id=user.pk).exists()
    assert not UserSession.objects.filter(user_id=user.pk).exists()
    assert not SupportInquiry.objects.filter(email=user.email).exists()
    assert set(deletion.steps.values_list("state", "attempts")) == {(ErasureStep.State.DONE, 1)}


def test_a_failing_statement_undoes_the_whole_batch_and_each_provider_then_runs_alone_exactly(
    monkeypatch: Any, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    user = _user_with_data_everywhere()
    grades = sorted(Grade.objects.filter(student=user).values_list("pk", flat=True))
    assert grades
    grading = registry.get("grading")
    real = grading.erase_statements

    def failing(victim: User) -> list[privacy.ErasePart]:
        # the grades are deleted first, then a statement fails: none of it may stay
        return [*real(victim), privacy.Statement("SELECT 1 / (SELECT COUNT(*) FROM grading_grade WHERE false)")]

    monkeypatch.setattr(grading, "erase_statements", failing)
    with caplog.at_level(logging.WARNING, logger="accounts.services"), CaptureQueriesContext(connection) as queries:
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 6")

    assert "the single transaction failed" in caplog.text
    assert deletion.state == AccountDeletionRequest.State.FAILED
    names = [p.name for p in registry.providers()]
    before, after = names[: names.index("grading")], names[names.index("grading") + 1 :]
    steps = {s.provider: s for s in deletion.steps.all()}
    assert {name: (steps[name].state, steps[name].attempts) for name in before} == {
        name: ("done", 1) for name in before
    }
    assert (steps["grading"].state, steps["grading"].attempts) == ("failed", 1)
    assert steps["grading"].error == "DataError: division by zero"
    assert {steps[name].state for name in after} == {"pending"}
    assert sorted(Grade.objects.filter(student=user).values_list("pk", flat=True)) == grades  # rolled back
    # the confirmation email's row was in the string rolled back: no email says it is done
    assert not Delivery.objects.filter(kind="accounts.account_erased").exists()
    assert User.objects.filter(pk=user.pk, is_active=False).exists()
    assert SupportInquiry.objects.filter(email=user.email).exists()
    # alone, each provider still sends its statements as one string: the failing one is its own round trip
    alone = [prepared.resolved(q["sql"]) for q in queries.captured_queries if "/ (SELECT COUNT(*)" in q["sql"]]
    assert len(alone) == 2  # in the batch of all providers, then in grading's own transaction
    assert 'DELETE FROM "accounts_user"' in alone[0]
    assert 'DELETE FROM "accounts_user"' not in alone[1]
    assert alone[1].startswith('DELETE FROM "grading_grade"')
    # the batch ran as prepared statements (preparing some in the transaction that rolled back); alone, a provider
    # runs its statements as their texts: the fallback does not depend on what the session holds
    raw = [q["sql"] for q in queries.captured_queries if "/ (SELECT COUNT(*)" in q["sql"]]
    assert "EXECUTE mindomo_" in raw[0]
    assert "EXECUTE mindomo_" not in raw[1]

    monkeypatch.setattr(grading, "erase_statements", real)
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        services.account_erasure_run(request_id=deletion.pk)
    # the retry: the providers left in one transaction again, as prepared statements, prepared anew (new names)
    # after the failed transaction that had prepared some of them
    (retry,) = [
        q["sql"] for q in queries.captured_queries if 'DELETE FROM "grading_grade"' in prepared.resolved(q["sql"])
    ]
    assert "PREPARE mindomo_" in retry
    assert 'DELETE FROM "accounts_user"' in prepared.resolved(retry)

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.ERASED
    steps = {s.provider: s for s in deletion.steps.all()}
    assert {s.state for s in steps.values()} == {"done"}
    assert all(steps[name].attempts == 1 for name in before)  # done steps never run twice
    assert steps["grading"].attempts == 2
    assert steps["grading"].error == ""
    assert not Grade.objects.filter(pk__in=grades).exists()
    assert not User.objects.filter(pk=user.pk).exists()
    assert not SupportInquiry.objects.filter(email=user.email).exists()
    # now it is: sent once (and its row deleted once sent: forget_when_sent)
    assert len([m for m in mail.outbox if m.to == [user.email]]) == 1


def test_erase_run_sends_consecutive_statements_as_one_string_and_runs_a_callable_in_its_place() -> None:
    seen: list[Any] = []
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        privacy.erase_run(
            [
                privacy.Statement("SELECT %s::int UNION ALL SELECT %s", [1, 2], seen.append),
                privacy.Statement("SELECT '100%%'", [], seen.append),
                privacy.Statement("SELECT 3 WHERE false"),  # no rows wanted
                lambda: seen.append("called"),
                privacy.Statement("SELECT %s::text", ["a;b"], seen.append),
            ]
        )
    assert seen == [[(1,), (2,)], [("100%",)], "called", [("a;b",)]]
    sent = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(sent) == 2


def test_a_queryset_with_dependents_is_deleted_by_statements_as_the_collector_would() -> None:
    user = UserFactory()
    invoice = paid_invoice(user)
    order = invoice.order
    assert order is not None

    parts = privacy.delete(Order.objects.filter(user_id=user.pk))
    assert parts
    assert all(isinstance(part, privacy.Statement) for part in parts)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        privacy.erase_run(parts)
    assert len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1

    assert not Order.objects.filter(pk=order.pk).exists()
    invoice.refresh_from_db()
    assert invoice.order_id is None  # SET_NULL, as the collector does: the invoice stays
    assert not BillingEvent.objects.filter(order_id=order.pk).exists()


def test_the_statements_decline_where_only_the_collector_is_right() -> None:
    user = UserFactory()
    paid_invoice(user)
    # a join to a table the cascade changes (the invoices lose their order first): only the collector is exact
    joined = privacy.delete(Order.objects.filter(invoices__user_id=user.pk))
    assert len(joined) == 1
    assert not isinstance(joined[0], privacy.Statement)

    def receiver(sender: Any, instance: Order, **kwargs: Any) -> None:
        pass

    signals.pre_delete.connect(receiver, sender=Order)
    try:
        heard = privacy.delete(Order.objects.filter(user_id=user.pk))
    finally:
        signals.pre_delete.disconnect(receiver, sender=Order)
    assert len(heard) == 1
    assert not isinstance(heard[0], privacy.Statement)
    with cascade.collector_only():
        assert not isinstance(privacy.delete(Order.objects.filter(user_id=user.pk))[0], privacy.Statement)
    # no dependents: one DELETE, as Django's fast delete
    (fast,) = privacy.delete(Grade.objects.filter(student_id=user.pk))
    assert isinstance(fast, privacy.Statement)
    assert fast.sql.startswith('DELETE FROM "grading_grade" WHERE')


def test_a_staff_account_is_not_erased_at_once_and_nothing_of_the_opening_stays() -> None:
    staff = UserFactory(is_staff=True)
    UserSession.objects.create(
        session_key=f"s{staff.pk}", session_data="x", expire_date=timezone.now(), user_id=staff.pk
    )

    with pytest.raises(ValidationError, match="Staff accounts are closed by an administrator"):
        services.account_erase_now(user=staff, requested_by="privacy_desk", reason="case 7")

    assert User.objects.filter(pk=staff.pk, is_active=True).exists()
    assert not AccountDeletionRequest.objects.filter(user=staff).exists()
    assert not ErasureStep.objects.exists()
    assert UserSession.objects.filter(user_id=staff.pk).exists()


def _shown(parts: list[privacy.ErasePart]) -> list[Any]:
    return [
        (p.sql, list(p.params), p.clears, p.unless_cleared) if isinstance(p, privacy.Statement) else "a call"
        for p in parts
    ]


@pytest.mark.parametrize("email", ["Mixed.Case@Example.COM", "", " spaced@example.org "])
def test_the_statements_built_once_per_process_are_what_each_provider_builds_for_the_person(email: str) -> None:
    privacy.forget()
    first, person = User(pk=10**9, email="some.one@example.org"), User(pk=10**9 + 1, email=email)
    for provider in registry.providers():
        privacy.erase_parts(provider, first)  # the shape's statements are built here, for probe people
        assert _shown(privacy.erase_parts(provider, person)) == _shown(provider.erase_statements(person)), provider
    reused = [key for key, template in privacy._erase_templates.items() if template is not privacy._UNUSABLE]
    assert len(reused) >= 8  # all but the accounts provider (the user row's cascade names its key in the text)


def test_a_delete_receiver_connected_later_is_heard_by_the_reused_statements() -> None:
    billing = registry.get("billing")
    user = User(pk=10**9 + 2, email="")
    assert all(isinstance(p, privacy.Statement) for p in privacy.erase_parts(billing, user))

    def receiver(sender: Any, instance: Order, **kwargs: Any) -> None:
        pass

    signals.post_delete.connect(receiver, sender=Order)
    try:
        assert "a call" in _shown(privacy.erase_parts(billing, user))  # the collector, which sends the signal
    finally:
        signals.post_delete.disconnect(receiver, sender=Order)
    assert all(isinstance(p, privacy.Statement) for p in privacy.erase_parts(billing, user))
    with cascade.collector_only():
        assert "a call" in _shown(privacy.erase_parts(billing, user))


def test_a_statement_is_left_out_only_after_one_in_the_same_run_cleared_what_it_would_find() -> None:
    seen: list[Any] = []
    grades = ("grading_grade", "student_id", 7)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        privacy.erase_run(
            [
                privacy.Statement("SELECT 'other person' WHERE false", unless_cleared=grades),  # nothing cleared yet
                privacy.Statement("SELECT 'clears' WHERE false", clears=(grades,)),
                privacy.Statement("SELECT 'again' WHERE false", unless_cleared=grades),  # left out
                privacy.Statement(
                    "SELECT 'another key' WHERE false", unless_cleared=("grading_grade", "student_id", 8)
                ),
                privacy.Statement(
                    "SELECT 'its rows wanted'", unless_cleared=grades, rows=seen.append
                ),  # never left out
                lambda: seen.append("called"),  # may write anything: what was cleared no longer counts
                privacy.Statement("SELECT 'after the callable' WHERE false", unless_cleared=grades),
            ]
        )
    sent = "\n".join(q["sql"] for q in queries.captured_queries)
    assert "'again'" not in sent
    for kept in ("'other person'", "'clears'", "'another key'", "'its rows wanted'", "'after the callable'"):
        assert kept in sent
    assert seen == [[("its rows wanted",)], "called"]


def test_delete_and_update_say_what_they_clear_from_their_querysets_condition() -> None:
    (grades,) = privacy.delete(Grade.objects.filter(student_id=5))
    assert isinstance(grades, privacy.Statement)
    assert grades.clears == (("grading_grade", "student_id", 5),)
    # an AND with another condition leaves rows with the key: nothing cleared; an OR's part is cleared
    (some,) = privacy.delete(Grade.objects.filter(student_id=5, feedback="x"))
    assert isinstance(some, privacy.Statement)
    assert some.clears == ()
    (either,) = privacy.delete(Grade.objects.filter(Q(student_id=5) | Q(feedback="x")))
    assert isinstance(either, privacy.Statement)
    assert either.clears == (("grading_grade", "student_id", 5),)
    # rows with dependents: the cascade's statements, the last one (the rows themselves) says it
    *children, orders = privacy.delete(Order.objects.filter(user_id=5))
    assert children
    assert all(isinstance(s, privacy.Statement) and s.clears == () for s in children)
    assert isinstance(orders, privacy.Statement)
    assert orders.clears == (("billing_order", "user_id", 5),)
    # an update clears the column it sets to NULL, not another one
    (detached,) = privacy.update(Grade.objects.filter(graded_by_id=5), graded_by=None)
    assert isinstance(detached, privacy.Statement)
    assert detached.clears == (("grading_grade", "graded_by_id", 5),)
    (renamed,) = privacy.update(Grade.objects.filter(graded_by_id=5), feedback="")
    assert isinstance(renamed, privacy.Statement)
    assert renamed.clears == ()


def test_the_user_rows_cascade_leaves_out_the_tables_a_provider_emptied_before_it() -> None:
    user = UserFactory()
    for _ in range(3):
        GradeFactory(student=user)
    paid_invoice(user)

    with CaptureQueriesContext(connection) as queries:
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 8")

    assert deletion.state == AccountDeletionRequest.State.ERASED
    # each prepared statement (sent as ``EXECUTE name(values)``) as the text it was prepared with
    statements = [sql for q in queries.captured_queries for sql in prepared.resolved(q["sql"]).split(";\n")]
    # the grading provider deleted the grades and the billing provider detached the invoices: the cascade does
    # not visit them again (it did, 101 statements in the erasure's string)
    assert [sql for sql in statements if sql.startswith('DELETE FROM "grading_grade"')] == [
        f'DELETE FROM "grading_grade" WHERE "grading_grade"."student_id" = {user.pk}'
    ]
    assert len([sql for sql in statements if 'UPDATE "billing_invoice" SET "user_id" = NULL' in sql]) == 1
    assert f'DELETE FROM "consent_consentrecord" WHERE "child_id" = {user.pk}' not in statements
    # the tables no provider empties are still the cascade's: the user's groups, the grades they graded
    assert f'DELETE FROM "accounts_user_groups" WHERE "user_id" = {user.pk}' in statements
    assert f'UPDATE "grading_grade" SET "graded_by_id" = NULL WHERE "graded_by_id" = {user.pk}' in statements
    erasure = max((prepared.resolved(q["sql"]) for q in queries.captured_queries), key=lambda sql: sql.count(";\n"))
    assert erasure.count(";\n") + 1 <= 70
    assert not Grade.objects.filter(student_id=user.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_row_added_after_a_provider_emptied_its_table_fails_the_commit_and_each_provider_then_runs_alone(
    monkeypatch: Any, caplog: Any
) -> None:
    user = UserFactory()
    GradeFactory(student=user)
    assignment = AssignmentFactory()
    schools = registry.get("schools")
    real = schools.erase_statements

    def late_grade(person: Any) -> Any:
        # after the grading provider's DELETE: as a grade a concurrent transaction committed in that moment
        return [
            *real(person),
            privacy.Statement(
                "INSERT INTO grading_grade (assignment_id, student_id, score, feedback, graded_at) "
                "VALUES (%s, %s, 12, '', now())",
                [assignment.pk, person.pk],
            ),
        ]

    monkeypatch.setattr(schools, "erase_statements", late_grade)
    names = [provider.name for provider in registry.providers()]
    assert names.index("grading") < names.index("schools") < names.index("accounts")
    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 9")

    # the cascade left the grades out (the grading provider had emptied them): the late row still points at the
    # deleted user, the deferred foreign key refuses the commit, and the providers then run alone
    assert "the single transaction failed" in caplog.text
    assert deletion.state == AccountDeletionRequest.State.ERASED
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Grade.objects.filter(student_id=user.pk).exists()


def test_the_accounts_providers_statements_are_built_once_and_bound_to_each_person(monkeypatch: Any) -> None:
    accounts = registry.get("accounts")
    first, second = UserFactory(), UserFactory()
    built: list[int] = []
    real = cascade.row_steps

    def counted(model: Any, pk: int) -> Any:
        built.append(pk)
        return real(model, pk)

    monkeypatch.setattr(cascade, "row_steps", counted)
    privacy.forget()
    privacy.erase_parts(accounts, first)  # the first call builds (for the probe people) and binds
    assert built
    built.clear()

    bound = privacy.erase_parts(accounts, second)

    assert built == []  # bound, not built again: the user row's cascade is the same text for everyone
    fresh = accounts.erase_statements(second)
    assert built == [second.pk]

    def shown(parts: list[Any]) -> list[Any]:
        return [(s.sql, list(s.params), s.clears, s.unless_cleared, s.rows is None) for s in parts]

    assert all(isinstance(part, privacy.Statement) for part in bound)
    assert shown(bound) == shown(fresh)
    assert any(s.unless_cleared == ("grading_grade", "student_id", second.pk) for s in bound)


def test_the_steps_of_an_opened_request_follow_the_registry_in_order() -> None:
    user = UserFactory()
    deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="case 9")
    steps = list(deletion.steps.order_by("position").values_list("provider", "position", "state", "attempts"))
    assert steps == [(p.name, n, ErasureStep.State.DONE, 1) for n, p in enumerate(registry.providers())]
    assert deletion.requested_at is not None
    assert deletion.requested_at <= timezone.now()
