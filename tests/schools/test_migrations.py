"""The schools app took its models over from accounts and grading with state-only migrations: a database
holding the demo data migrates forward (and back) without a row copied, lost or added."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from mindomo.demo import load_all

BEFORE = ("schools", None)  # schools unapplied, and with it the state-only moves of accounts, consent, grading
MOVED = {
    "school": "accounts",
    "schoolmembership": "accounts",
    "schoolstudentaccount": "grading",
    "teacherinvitation": "grading",
}
TABLES = ["accounts_school", "accounts_schoolmembership", "grading_schoolstudentaccount", "grading_teacherinvitation"]


def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    """Migrate to ``targets``; the models as the applied migrations describe them."""
    MigrationExecutor(connection).migrate(targets)
    loader = MigrationExecutor(connection).loader
    return loader.project_state(list(loader.applied_migrations)).apps


def _migrate_to_latest() -> Any:
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    return _migrate(leaves)


def _row_counts() -> dict[str, int]:
    """Every table's row count but the migrations' own, read with SQL (the models differ between the states)."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(set(connection.introspection.table_names(cursor)) - {"django_migrations"}):
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


def _content_type_apps() -> dict[str, str]:
    return dict(
        ContentType.objects.filter(model__in=MOVED).exclude(app_label="admin").values_list("model", "app_label")
    )


@pytest.fixture
def before_the_move(transactional_db: Any) -> Iterator[Any]:
    # The demo data is written with today's models (later migrations add columns the state before lacks), then
    # the database goes back to the state before the move, and forward again.
    load_all()
    old_apps = _migrate([BEFORE])
    ContentType.objects.clear_cache()
    try:
        yield old_apps
    finally:
        _migrate_to_latest()
        ContentType.objects.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_demo_data_moves_to_the_schools_app_without_a_row_lost(before_the_move: Any) -> None:
    old_apps = before_the_move
    # In the state before, the models are accounts' and grading's.
    old_school = old_apps.get_model("accounts", "School")
    old_membership = old_apps.get_model("accounts", "SchoolMembership")
    old_registered = old_apps.get_model("grading", "SchoolStudentAccount")
    with pytest.raises(LookupError):
        old_apps.get_model("schools", "School")
    for model, app in MOVED.items():
        ContentType.objects.get_or_create(app_label=app, model=model)
    ContentType.objects.clear_cache()
    assert old_school.objects.count() > 0
    assert old_membership.objects.count() > 0
    assert old_registered.objects.count() > 0
    schools_before = list(old_school.objects.order_by("pk").values_list("pk", "name"))
    memberships_before = sorted(old_membership.objects.values_list("school_id", "user_id", "role"))
    before = _row_counts()
    assert all(before[table] > 0 for table in TABLES if table != "grading_teacherinvitation")
    assert _content_type_apps() == MOVED

    new_apps = _migrate_to_latest()
    ContentType.objects.clear_cache()

    after = _row_counts()
    # no row copied, lost or added in any table; the tables later migrations create are empty
    assert {t: n for t, n in after.items() if t in before} == before
    assert {t: n for t, n in after.items() if t not in before} == dict.fromkeys(set(after) - set(before), 0)
    school = new_apps.get_model("schools", "School")
    membership = new_apps.get_model("schools", "SchoolMembership")
    assert list(school.objects.order_by("pk").values_list("pk", "name")) == schools_before
    assert sorted(membership.objects.values_list("school_id", "user_id", "role")) == memberships_before
    # the foreign keys of consent and grading now name schools.School, over the same rows
    record = new_apps.get_model("consent", "ConsentRecord").objects.filter(school__isnull=False).first()
    assert record is not None
    assert record.school.name == schools_before[0][1]
    school_class = new_apps.get_model("grading", "SchoolClass").objects.select_related("school").first()
    assert school_class is not None
    assert school_class.school.name == schools_before[0][1]
    # the content types (and the staff roles' permissions on them) moved with the models
    assert _content_type_apps() == dict.fromkeys(MOVED, "schools")

    # and back: the migration is reversible, still without a row lost
    _migrate([BEFORE])
    ContentType.objects.clear_cache()
    assert _row_counts() == before
    assert _content_type_apps() == MOVED
