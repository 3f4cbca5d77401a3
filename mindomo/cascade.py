"""Delete one row with everything Django's deletion collector would delete or detach with it, in one round trip.

``Model.delete()`` (the collector) visits every table with a foreign key to the row, one query each, and first
reads the ids of every related model that has dependents of its own: for a user that is about fifty round trips,
most of them finding nothing, because Django 5.2 declares no ``ON DELETE`` action in the database. A
:class:`Plan` is the same walk done once per process from the models' metadata (the same source the collector
reads): every ``SET_NULL`` becomes one ``UPDATE``, every ``CASCADE`` one ``DELETE`` whose rows are named by a
subquery on the parent's foreign key, children before parents; the statements travel as one string (one round
trip) in the caller's transaction. :func:`row_statements` gives the same statements to a caller that sends them
with others (the erasure pipeline), and :func:`delete_statements` does the same walk for the rows of a queryset
(``queryset.delete()`` as statements, the queryset's condition as a subquery).

It is only used where it means exactly what the collector would do: no plan is made (``plan`` returns None and
:func:`delete` returns False, so the caller runs the collector) when a model of the walk has delete signal
receivers, a parent model (multi-table inheritance), a generic relation, a relation whose ``on_delete`` is not
``CASCADE``, ``SET_NULL`` or ``DO_NOTHING`` (``PROTECT`` and ``RESTRICT`` must raise as the collector raises),
or when the walk goes round a cycle. The database's deferred foreign keys remain the last word: if a row still
points at a deleted one, the transaction fails at commit and nothing is deleted. Inside :func:`collector_only`
(a fallback after such a failure) :func:`delete` always declines.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import CASCADE, DO_NOTHING, SET_NULL, Model, QuerySet, signals
from django.db.models.deletion import Collector, get_candidate_relations_to_delete
from django.db.models.sql import DeleteQuery

ROOT = "__mindomo_cascade_root__"  # stands for the root row's primary key in a plan's SQL
ROWS = "__mindomo_cascade_rows__"  # stands for a subquery of the root rows' primary keys (delete_statements)
MAX_DEPTH = 8

_collector_only: contextvars.ContextVar[bool] = contextvars.ContextVar("cascade_collector_only", default=False)


@dataclass(frozen=True)
class Plan:
    """The statements deleting one row of ``model`` (its primary key as ``ROOT``) and the models whose rows they
    delete (checked for signal receivers at every use, since receivers may connect after the plan was made)."""

    model: type[Model]
    statements: tuple[str, ...]
    deleted_models: frozenset[type[Model]]
    # each statement's first step from the root: the (table, column) of the foreign key to the root through which
    # it reaches its rows (absent: the root's own row); it finds nothing once no row of that table points at it
    hops: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False)

    def sql(self, pk: int) -> str:
        if type(pk) is not int:  # inlined into the SQL: only an integer, never text
            raise TypeError(f"a cascade plan takes an integer primary key, not {type(pk).__name__}")
        return ";\n".join(statement.replace(ROOT, str(pk)) for statement in self.statements)


class _NoPlan(Exception):
    """The walk met something only the collector handles."""


@cache
def plan(model: type[Model]) -> Plan | None:
    """The plan for deleting one row of ``model``, or None when only the collector does it right."""
    try:
        return _build(model._meta.concrete_model or model)
    except _NoPlan:
        return None


@cache
def _rows_plan(model: type[Model]) -> _RowsPlan | None:
    """The plan for deleting the rows of ``model`` whose primary keys ``ROWS`` (a subquery) names."""
    try:
        found = _build(model, rows=True)
    except _NoPlan:
        return None
    q = connection.ops.quote_name
    updated = frozenset(s.split()[1] for s in found.statements if s.startswith("UPDATE "))
    return _RowsPlan(found, updated, q(model._meta.db_table) in updated)


@dataclass(frozen=True)
class _RowsPlan:
    plan: Plan
    updated_tables: frozenset[str]  # quoted names of the tables its UPDATEs change
    updates_itself: bool  # a SET_NULL of the model onto itself: its rows change before they are deleted


def _build(model: type[Model], *, rows: bool = False) -> Plan:
    """The walk; ``rows``: the root is the set of rows whose primary keys the subquery ``ROWS`` gives, not the
    one row ``ROOT``."""
    q = connection.ops.quote_name
    updates: list[str] = []
    deletes: list[str] = []
    deleted: set[type[Model]] = set()
    hops: dict[str, tuple[str, str]] = {}

    def walk(
        current: type[Model],
        where: str,
        rows_of: Callable[[str], str],
        path: tuple[type[Model], ...],
        hop: tuple[str, str] | None = None,
    ) -> None:
        """``current``'s rows matching ``where`` are deleted; ``rows_of(column)`` is a subquery of that column over
        those rows; ``hop``: the first foreign key of the path from the root. Descendants' statements come first
        (children before parents)."""
        opts = current._meta
        if opts.parents or any(hasattr(field, "bulk_related_objects") for field in opts.private_fields):
            raise _NoPlan(f"{opts.label}: a parent model or a generic relation")
        if len(path) > MAX_DEPTH:
            raise _NoPlan(f"{opts.label}: deeper than {MAX_DEPTH}")
        deleted.add(current)
        relation: Any
        for relation in get_candidate_relations_to_delete(opts):
            field = relation.field
            on_delete = field.remote_field.on_delete
            if on_delete is DO_NOTHING:
                continue
            related: Any = relation.related_model._meta.concrete_model
            child_table = q(related._meta.db_table)
            column = q(field.column)
            target = field.target_field
            if target.model._meta.concrete_model is current and target.primary_key and not path:
                # the root itself: its primary key, no subquery
                matches = f"{column} IN ({ROWS})" if rows else f"{column} = {ROOT}"
            else:
                matches = f"{column} IN ({rows_of(target.column)})"
            step = hop or (related._meta.db_table, field.column)
            if on_delete is SET_NULL:
                updates.append(f"UPDATE {child_table} SET {column} = NULL WHERE {matches}")  # noqa: S608
                hops[updates[-1]] = step
            elif on_delete is CASCADE:
                if related in path or related is current:
                    raise _NoPlan(f"{related._meta.label}: a cycle of cascades")

                def child_rows(wanted: str, table: str = child_table, condition: str = matches) -> str:
                    return f"SELECT {q(wanted)} FROM {table} WHERE {condition}"  # noqa: S608

                walk(related, matches, child_rows, (*path, current), step)
            else:
                action = getattr(on_delete, "__name__", on_delete)
                raise _NoPlan(f"{related._meta.label}.{field.name}: on_delete {action}")
        deletes.append(f"DELETE FROM {q(opts.db_table)} WHERE {where}")  # noqa: S608
        if hop is not None:
            hops[deletes[-1]] = hop

    table = q(model._meta.db_table)
    pk_column = q(str(model._meta.pk.column))

    root = f"{pk_column} IN ({ROWS})" if rows else f"{pk_column} = {ROOT}"

    def root_rows(wanted: str) -> str:
        return f"SELECT {q(wanted)} FROM {table} WHERE {root}"  # noqa: S608

    walk(model, root, root_rows, ())
    # Detach first (the rows they name still exist), then delete children before parents.
    return Plan(model, tuple(dict.fromkeys([*updates, *deletes])), frozenset(deleted), hops)


def _listened(models: frozenset[type[Model]]) -> bool:
    return any(signals.pre_delete.has_listeners(m) or signals.post_delete.has_listeners(m) for m in models)


def delete(model: type[Model], pk: int) -> bool:
    """Delete the row ``pk`` of ``model`` with its cascade in one round trip, in the caller's transaction.

    False, with nothing done, when there is no plan for ``model``, a model of it has delete receivers now, or
    inside :func:`collector_only`: the caller then deletes through the collector.
    """
    found = plan(model)
    if found is None or _collector_only.get() or _listened(found.deleted_models):
        return False
    with connection.cursor() as cursor:
        cursor.execute(found.sql(pk))
    return True


def row_statements(model: type[Model], pk: int) -> list[str] | None:
    """The statements :func:`delete` sends for the row ``pk`` of ``model`` (one string each, no parameters), for
    a caller that sends them with others in one round trip; None where :func:`delete` would decline."""
    found = plan(model)
    if found is None or _collector_only.get() or _listened(found.deleted_models):
        return None
    return found.sql(pk).split(";\n")


def row_steps(model: type[Model], pk: int) -> list[tuple[str, list[int], tuple[str, str] | None]] | None:
    """:func:`row_statements` as DB-API text (``%s`` for the row's primary key, ``%%`` a percent sign: the same
    text for every row) with their parameters, each with its first step from the row: the (table, column) of
    the foreign key to the row through which it reaches its rows, None for the row's own statement. A caller
    that has already removed (or detached) every row of that table pointing at the row, in the same
    transaction, may leave the statement out: it would find nothing (a row a concurrent transaction added
    meanwhile still pointing at the row fails the commit, as any row the cascade missed: the database's
    deferred foreign keys)."""
    found = plan(model)
    if found is None or _collector_only.get() or _listened(found.deleted_models):
        return None
    if type(pk) is not int:
        raise TypeError(f"a cascade plan takes an integer primary key, not {type(pk).__name__}")
    return [
        (raw.replace("%", "%%").replace(ROOT, "%s"), [pk] * raw.count(ROOT), found.hops.get(raw))
        for raw in found.statements
    ]


def delete_statements(queryset: QuerySet[Any]) -> list[tuple[str, list[Any]]] | None:
    """What ``queryset.delete()`` does, as statements (DB-API text: ``%s`` placeholders, ``%%`` a percent sign,
    and their parameters) to run in order in the caller's transaction, or None where only the collector is
    right (the caller then runs ``queryset.delete()``).

    Rows the collector would delete with no reads (no dependents, no receivers: Django's fast delete) go in one
    ``DELETE``; rows with dependents go with the plan above, each statement naming the rows by the queryset's
    condition as a subquery. That is exact only if the condition reads nothing the plan changes before its last
    statement deletes the rows: no plan when the queryset joins a table the plan deletes from or updates, or the
    model sets itself to NULL; a subquery in the condition must not read such a table either (the caller's
    part). Inside :func:`collector_only` it declines as :func:`delete` does.
    """
    database = queryset.db
    model: type[Model] = queryset.model
    try:
        if Collector(using=database, origin=queryset).can_fast_delete(queryset):
            delete_query = queryset.query.chain(DeleteQuery)
            sql, params = delete_query.get_compiler(database).as_sql()
            return [(sql, list(params))]
        concrete: type[Model] = model._meta.concrete_model or model
        found = _rows_plan(concrete)
        if found is None or found.updates_itself or _collector_only.get() or _listened(found.plan.deleted_models):
            return None
        q = connection.ops.quote_name
        changed = found.updated_tables | {q(m._meta.db_table) for m in found.plan.deleted_models}
        read = {
            q(join.table_name)
            for alias, join in queryset.query.alias_map.items()
            if queryset.query.alias_refcount.get(alias, 1)
        }
        if (read - {q(model._meta.db_table)}) & changed:
            return None
        rows_sql, rows_params = queryset.order_by().values("pk").query.get_compiler(database).as_sql()
    except EmptyResultSet:  # .none(), pk__in=[]: nothing to delete
        return []
    return [
        (
            statement.replace("%", "%%").replace(ROWS, rows_sql),
            list(rows_params) * statement.count(ROWS),
        )
        for statement in found.plan.statements
    ]


def collector_only_now() -> bool:
    """Inside :func:`collector_only`."""
    return _collector_only.get()


@contextmanager
def collector_only() -> Iterator[None]:
    """Within this block :func:`delete` always declines (the caller's fallback after a failed fast path)."""
    token = _collector_only.set(True)
    try:
        yield
    finally:
        _collector_only.reset(token)
