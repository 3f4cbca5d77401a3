"""Migrations on a database holding the demo data: forward without loss, the consent events carried into the ledger."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps as current_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from consent import ledger
from mindomo.demo import load_all

BEFORE = ("consent", "0004_disclosure_consent")
AFTER = ("consent", "0005_consent_events_into_the_ledger")


def _migrate(target: tuple[str, str]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return MigrationExecutor(connection).loader.project_state([target]).apps


def _row_counts() -> dict[str, int]:
    counts = {}
    tables = set(connection.introspection.table_names())
    for model in current_apps.get_models():
        if model._meta.db_table in tables:  # a model added by a later migration has no table yet
            counts[model._meta.label] = model._default_manager.count()
    return counts


def _chains_ok(entries: Any) -> bool:
    """Every row matches its hash and links to GENESIS or to the newest row of one chain (read through the
    historical model, which has no ``chain`` column: the demo data was written by today's code, so its rows
    already sit in several chains)."""
    tips: set[str] = set()
    for *values, prev_hash, stored in entries.objects.order_by("seq").values_list(*ledger.FIELDS, "prev_hash", "hash"):
        if ledger._hash(tuple(values), prev_hash) != stored:
            return False
        if prev_hash != ledger.GENESIS:
            if prev_hash not in tips:
                return False
            tips.remove(prev_hash)
        tips.add(stored)
    return True


def _migrate_to_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def at_0004(transactional_db: Any) -> Iterator[Any]:
    # The demo data is loaded with today's models (later migrations add columns 0004 lacks), then the
    # database goes back to 0004 and forward again: the data migration runs over it.
    load_all()
    old_apps = _migrate(BEFORE)
    try:
        yield old_apps
    finally:
        _migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_demo_data_migrates_forward_and_old_consent_events_join_the_ledger(at_0004: Any) -> None:
    old_event = at_0004.get_model("consent", "ConsentEvent")
    old_rule = at_0004.get_model("consent", "AgeRule").objects.get(country="US", superseded_at__isnull=True)
    old_entries = at_0004.get_model("consent", "LedgerEntry")
    first = old_entries.objects.order_by("seq").first()
    assert first is not None  # the demo data wrote the ledger
    older = first.at - datetime.timedelta(days=30)
    # Events from before the ledger existed (in ConsentEvent only), and one the ledger already holds.
    for kind, count in (("requested", 2), ("refused", 1), ("expired", 3)):
        event = old_event.objects.create(kind=kind, count=count, rule=old_rule)
        old_event.objects.filter(pk=event.pk).update(created_at=older)
    old_event.objects.create(kind="approved", rule=old_rule)  # after the ledger began: already in it
    before = _row_counts()
    ledger_before = old_entries.objects.count()
    assert _chains_ok(old_entries)

    entries = _migrate(AFTER).get_model("consent", "LedgerEntry")

    after = _row_counts()
    carried = entries.objects.filter(detail__carried_from="consent event")
    assert sorted(carried.values_list("kind", flat=True)) == ["expired"] * 3 + ["refused"] + ["requested"] * 2
    assert set(carried.values_list("rule", flat=True)) == {"US"}
    assert all(e.at == older for e in carried)
    assert after.pop("consent.LedgerEntry") == ledger_before + 6
    before.pop("consent.LedgerEntry")
    assert after == before  # no other row lost or added
    assert _chains_ok(entries)  # the carried rows are chained like any other
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('consent_consentevent')")
        assert cursor.fetchone()[0] is None
