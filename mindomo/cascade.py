"""Delete one row with everything Django's deletion collector would delete or detach with it, in one round trip.

``Model.delete()`` (the collector) visits every table with a foreign key to the row, one query each, and first
reads the ids of every related model that has dependents of its own: for a user that is about fifty round trips,
most of them finding nothing, because Django 5.2 declares no ``ON DELETE`` action in the database. A
:class:`Plan` is the same walk done once per process from the models' metadata (the same source the collector
reads): every ``SET_NULL`` becomes one ``UPDATE``, every ``CASCADE`` one ``DELETE`` whose rows are named by a
subquery on the parent's foreign key, children before parents; the statements travel as one string (one round
trip) in the caller's transaction.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import CASCADE, DO_NOTHING, SET_NULL, Model, signals
from django.db.models.deletion import get_candidate_relations_to_delete

ROOT = "__mindomo_cascade_root__"  # stands for the root row's primary key in a plan's SQL
MAX_DEPTH = 8

_collector_only: contextvars.ContextVar[bool] = contextvars.ContextVar("cascade_collector_only", default=False)


@dataclass(frozen=True)
class Plan:
    """The statements deleting one row of ``model`` (its primary key as ``ROOT``) and the models whose rows they
    delete (checked for signal receivers at every use, since receivers may connect after the plan was made)."""

    model: type[Model]
    statements: tuple[str, ...]
    deleted_models: frozenset[type[Model]]

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


def _build(model: type[Model]) -> Plan:
    q = connection.ops.quote_name
    updates: list[str] = []
    deletes: list[str] = []
    deleted: set[type[Model]] = set()

    def walk(current: type[Model], where: str, rows_of: Callable[[str], str], path: tuple[type[Model], ...]) -> None:
        """``current``'s rows matching ``where`` are deleted; ``rows_of(column)`` is a subquery of that column over
        those rows. Descendants' statements come first (children before parents)."""
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
                matches = f"{column} = {ROOT}"  # the root itself: its primary key, no subquery
            else:
                matches = f"{column} IN ({rows_of(target.column)})"
            if on_delete is SET_NULL:
                updates.append(f"UPDATE {child_table} SET {column} = NULL WHERE {matches}")  # noqa: S608
            elif on_delete is CASCADE:
                if related in path or related is current:
                    raise _NoPlan(f"{related._meta.label}: a cycle of cascades")

                def child_rows(wanted: str, table: str = child_table, condition: str = matches) -> str:
                    return f"SELECT {q(wanted)} FROM {table} WHERE {condition}"  # noqa: S608

                walk(related, matches, child_rows, (*path, current))
            else:
                action = getattr(on_delete, "__name__", on_delete)
                raise _NoPlan(f"{related._meta.label}.{field.name}: on_delete {action}")
        deletes.append(f"DELETE FROM {q(opts.db_table)} WHERE {where}")  # noqa: S608

    table = q(model._meta.db_table)
    pk_column = q(str(model._meta.pk.column))

    def root_rows(wanted: str) -> str:
        return f"SELECT {q(wanted)} FROM {table} WHERE {pk_column} = {ROOT}"  # noqa: S608

    walk(model, f"{pk_column} = {ROOT}", root_rows, ())
    # Detach first (the rows they name still exist), then delete children before parents.
    return Plan(model, tuple(dict.fromkeys([*updates, *deletes])), frozenset(deleted))


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


@contextmanager
def collector_only() -> Iterator[None]:
    """Within this block :func:`delete` always declines (the caller's fallback after a failed fast path)."""
    token = _collector_only.set(True)
    try:
        yield
    finally:
        _collector_only.reset(token)
