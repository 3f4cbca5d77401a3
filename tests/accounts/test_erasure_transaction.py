"""The erasure pipeline's common case: every provider in one transaction with one update of the step states;
per-provider transactions only after that transaction failed (tests/accounts/test_deletion.py covers the
failing provider and the exact retry)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import AccountDeletionRequest, ErasureStep, User
from grading.models import Grade
from mindomo.privacy import registry
from tests.accounts.test_deletion import _request_deletion, _user_with_data_everywhere

pytestmark = pytest.mark.django_db


def test_an_erasure_is_one_transaction_with_one_update_of_the_steps(django_capture_on_commit_callbacks: Any) -> None:
    user = _user_with_data_everywhere()
    deletion = _request_deletion(user, django_capture_on_commit_callbacks)

    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        services.account_erasure_run(request_id=deletion.pk, now=deletion.erase_after)

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.ERASED
    statements = [q["sql"] for q in queries.captured_queries]
    step_updates = [sql for sql in statements if sql.startswith('UPDATE "accounts_erasurestep"')]
    assert len(step_updates) == 1
    assert set(deletion.steps.values_list("state", flat=True)) == {ErasureStep.State.DONE}
    assert deletion.steps.count() == len(registry.providers())
    # every provider's work comes before that one update: no step was marked done on its own
    assert statements.index(step_updates[0]) > max(i for i, sql in enumerate(statements) if "grading_grade" in sql)
    assert not Grade.objects.filter(student_id=user.pk).exists()
    assert not User.objects.filter(pk=user.pk).exists()
