"""The erasure's statements as prepared statements of the session (mindomo.prepared), the opening as one INSERT
... ON CONFLICT on the index of open requests, the confirmation email's INSERT in the erasure's string."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import AccountDeletionRequest, User
from mindomo import prepared, privacy, statements
from mindomo.outbox.models import Delivery
from tests.accounts.factories import UserFactory


def _erasure_string(queries: CaptureQueriesContext) -> str:
    return max((q["sql"] for q in queries.captured_queries), key=lambda sql: sql.count(";\n"))


@pytest.mark.django_db
def test_a_statement_is_prepared_once_per_connection_then_executed_by_name() -> None:
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        for value in (1, 2):
            privacy.erase_run([privacy.Statement("SELECT %s::int + 40 WHERE %s > 0", [value, value], prepare=True)])
    first, second = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    generation, _held = statements.prepared_held(connection.connection)
    name = f"{statements.prepared_base('SELECT $1::int + 40 WHERE $2 > 0')}_{generation}"
    assert first.startswith(f"PREPARE {name} AS SELECT $1::int + 40 WHERE $2 > 0;\nEXECUTE {name}(1, 1)")
    assert second == f"EXECUTE {name}(2, 2)"
    # the text it was prepared with, its values in their places
    assert prepared.resolved(second) == "SELECT 2::int + 40 WHERE 2 > 0"
    assert prepared.resolved(first) == "SELECT 1::int + 40 WHERE 1 > 0"


@pytest.mark.django_db
def test_an_erasure_sends_its_statements_by_name_once_they_are_prepared() -> None:
    services.account_erase_now(user=UserFactory(), requested_by="privacy_desk", reason="first")
    user = UserFactory()

    with CaptureQueriesContext(connection) as queries:
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="second")

    assert deletion.state == AccountDeletionRequest.State.ERASED
    erasure = _erasure_string(queries)
    assert "PREPARE" not in erasure
    assert all(sql.startswith("EXECUTE mindomo_") for sql in erasure.split(";\n"))
    assert not User.objects.filter(pk=user.pk).exists()
    # the email's row is in the erasure's string: it exists because the erasure committed
    assert Delivery.objects.filter(kind="accounts.account_erased", to_email=user.email).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_session_that_lost_its_prepared_statements_falls_back_then_prepares_them_again() -> None:
    services.account_erase_now(user=UserFactory(), requested_by="privacy_desk", reason="first")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # what a pooler's reset does: the names remembered are stale
    user = UserFactory()

    deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="second")

    assert deletion.state == AccountDeletionRequest.State.ERASED  # the opening or the string failed, then resynced
    assert not User.objects.filter(pk=user.pk).exists()
    with CaptureQueriesContext(connection) as queries:
        services.account_erase_now(user=UserFactory(), requested_by="privacy_desk", reason="third")
    assert all(sql.startswith("EXECUTE mindomo_") for sql in _erasure_string(queries).split(";\n"))


@pytest.mark.django_db(transaction=True)
def test_after_psycopgs_deallocate_all_following_a_rollback_an_erasure_prepares_again_at_once(
    caplog: Any,
) -> None:
    services.account_erase_now(user=UserFactory(), requested_by="privacy_desk", reason="first")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'mindomo_%%'")
        assert cursor.fetchone()[0] > 0

    # psycopg prepares a statement of its own (statements.rows), then the transaction rolls back: psycopg sends
    # DEALLOCATE ALL, ours go with it, and the record of what the connection holds is emptied with them
    def rolled_back() -> None:
        with transaction.atomic():
            statements.rows("SELECT %s::int", [1])
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        rolled_back()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0
    user = UserFactory()

    with caplog.at_level("WARNING", logger="accounts.services"), CaptureQueriesContext(connection) as queries:
        deletion = services.account_erase_now(user=user, requested_by="privacy_desk", reason="second")

    # no statement was found missing: the opening prepared its statements again at once, and the erasure ran in
    # its one transaction
    assert deletion.state == AccountDeletionRequest.State.ERASED
    assert "the single transaction failed" not in caplog.text
    assert set(deletion.steps.values_list("attempts", flat=True)) == {1}
    assert AccountDeletionRequest.objects.filter(user_id=user.pk).count() == 0
    assert AccountDeletionRequest.objects.count() == 2
    assert not User.objects.filter(pk=user.pk).exists()
    assert len([m for m in mail.outbox if m.to == [user.email]]) == 1  # committed, then sent (its row forgotten)
    openings = [q["sql"] for q in queries.captured_queries if "EXECUTE mindomo_" in q["sql"]]
    assert len(openings) == 2  # the opening, the erasure: none failed and was sent again
    assert "PREPARE mindomo_" in openings[0]
    erasure = _erasure_string(queries).split(";\n")
    assert all(sql.startswith(("PREPARE mindomo_", "EXECUTE mindomo_")) for sql in erasure)
    assert any(sql.startswith("PREPARE mindomo_") for sql in erasure)
