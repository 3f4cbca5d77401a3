"""The retention engine's batches: every rule reads its batch in keyset order on an index that matches its
filter (EXPLAIN, no sort and no sequential scan), a batch is one DELETE statement, and a rule declared with
nothing but ``expired`` works the same."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mindomo import bulk
from mindomo.privacy import RetentionRule, registry
from privacy import services
from privacy.models import AccessLog
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _plan(rule: RetentionRule, *, after: bool) -> str:
    now = timezone.now()
    queryset = rule.expired(now)
    last: tuple[Any, ...] | None = None
    if after:  # a later batch: the keyset condition on the last key of the batch before
        model = queryset.model
        field = model._meta.pk if rule.key[0] == "pk" else model._meta.get_field(rule.key[0])
        first: Any = now if field.get_internal_type() == "DateTimeField" else 1  # type: ignore[union-attr]
        if rule.key[0] == "year":
            first = 2000
        last = (first, *([1] * (len(rule.key) - 1)))
    with transaction.atomic():
        selected = bulk.keyset(queryset, key=rule.key, after=last).select_for_update(skip_locked=True, of=("self",))
        sql, params = selected.values_list("pk")[: bulk.BATCH_SIZE].query.sql_with_params()
        with connection.cursor() as cursor:
            # whatever the table's size: an index that gives the order must exist for the plan to need no sort
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                cursor.execute(f"SET LOCAL {setting} = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("after", [False, True], ids=["first-batch", "later-batch"])
def test_every_rule_reads_its_batch_in_index_order(after: bool) -> None:
    rules = registry.retention_rules()
    assert len(rules) >= 8
    for _provider, rule in rules:
        plan = _plan(rule, after=after)
        main = plan.split("SubPlan")[0]  # an EXISTS of the rule's filter may scan its own table
        assert "Seq Scan" not in main, f"{rule.name}:\n{plan}"
        assert "Sort" not in main, f"{rule.name} sorts its batch instead of reading an index in order:\n{plan}"
        if rule.key != ("pk",):  # a rule declared with only its filter walks the primary key
            assert "Index Cond" in main, f"{rule.name}: its index does not serve its filter:\n{plan}"


def test_a_batch_is_one_delete_statement_and_the_keyset_moves_on() -> None:
    subject = UserFactory()
    for days in (800, 801, 802, 803, 804):
        entry = AccessLog.objects.create(staff_label="s", action="view", model="accounts.User", object_id="1")
        AccessLog.objects.filter(pk=entry.pk).update(at=timezone.now() - timedelta(days=days), subject_id=subject.pk)
    kept = AccessLog.objects.create(staff_label="s", action="view", model="accounts.User", object_id="1")

    with CaptureQueriesContext(connection) as queries:
        (outcome,) = services.retention_apply(batch_size=2, rules=["privacy.access_log"])

    assert outcome.count == 5
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [kept.pk]
    deletes = [q["sql"] for q in queries.captured_queries if 'DELETE FROM "privacy_accesslog"' in q["sql"]]
    assert len(deletes) == 3  # 2 + 2 + 1: the batch that took the last rows ends the run
    # each batch reads one row more than it deletes: whether another batch is needed (no last empty batch)
    assert all("FOR UPDATE" in sql and "SKIP LOCKED" in sql and "LIMIT 3" in sql for sql in deletes)
    assert '("privacy_accesslog"."at", "privacy_accesslog"."id") >' in deletes[1]


def test_a_rule_declared_with_only_its_filter_is_applied_in_batches(monkeypatch: Any) -> None:
    old = [AccessLog.objects.create(staff_label=f"s{n}", action="view", model="m", object_id="1") for n in range(3)]
    AccessLog.objects.filter(pk__in=[e.pk for e in old]).update(at=timezone.now() - timedelta(days=40))
    kept = AccessLog.objects.create(staff_label="new", action="view", model="m", object_id="1")
    rule = RetentionRule(
        name="test.generic",
        description="d",
        period="p",
        expired=lambda now: AccessLog.objects.filter(at__lt=now - timedelta(days=30)),
    )
    monkeypatch.setattr(registry, "retention_rules", lambda: [(registry.get("privacy"), rule)])

    (outcome,) = services.retention_apply(batch_size=2)

    assert outcome.count == 3
    assert list(AccessLog.objects.values_list("pk", flat=True)) == [kept.pk]
