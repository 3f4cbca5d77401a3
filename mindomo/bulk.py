"""Set-based bulk deletes: one statement per batch, keyset order on an index, SKIP LOCKED.

Every bulk delete of the product (the retention engine's rules, the expiry of pending child sign-ups, the
invoice purge) goes through :func:`delete_in_batches`. Each batch is one transaction holding one statement::

    WITH gone AS (
        DELETE FROM t WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM t WHERE <the rule's filter> AND (key) > (last key of the batch before)
            ORDER BY key LIMIT n FOR UPDATE OF t SKIP LOCKED
        )) RETURNING key, <columns the rule needs>
    ) SELECT count, the last key, each needed column aggregated into one string

plus what the caller's ``after_delete`` does with the batch in the same transaction (one ledger append,
one audit row). ``key`` must be the columns of an index that matches the filter (e.g. ``expires_at, id``
for "expires_at <= now"), so each batch reads only the rows it deletes: the keyset walks the index forward
past the dead entries of earlier batches instead of filtering them again. Rows another run holds are
skipped, so two runs at once never block each other or delete twice. The deleted rows come back as one
row (a count, the last key, one newline-joined string per column), not 10,000 rows to decode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import DO_NOTHING, F, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan

BATCH_SIZE = 10_000

Key = tuple[Any, ...]


@dataclass
class Batch:
    """One deleted batch: how many rows, the last key in ``key`` order, and the ``returning`` columns'
    values as text (one list per column, sorted; the values travel newline-joined, so
    return only columns without newlines: ids, pseudonyms, file names)."""

    count: int
    last: Key
    columns: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        return self.columns[name]


def delete_batch(
    queryset: QuerySet[Any],
    *,
    key: Sequence[str] = ("pk",),
    after: Key | None = None,
    size: int = BATCH_SIZE,
    returning: Sequence[str] = (),
    bare: bool = False,
) -> Batch | None:
    """Delete the next ``size`` rows of ``queryset`` in ``key`` order after ``after``; one statement.

    Returns None when nothing was left. Runs in the caller's transaction (it needs one: the rows are
    locked until it ends). Rows other tables point at go through Django's collector (their dependents
    with them) unless ``bare``: the caller then handles the dependents in the same transaction (foreign
    keys are checked at commit).
    """
    model = queryset.model
    meta = model._meta
    selected = keyset(queryset, key=key, after=after).select_for_update(skip_locked=True, of=("self",))
    if not bare and has_dependents(model):
        # Rows other tables point at (a user: CASCADE and SET_NULL everywhere): Django's collector deletes
        # the batch with its dependents; the batch is still chosen by one keyset statement.
        chosen = list(selected.values_list("pk", *key, *returning)[:size])
        if not chosen:
            return None
        model._base_manager.filter(pk__in=[row[0] for row in chosen]).delete()
        width = len(key)
        return Batch(
            count=len(chosen),
            last=max(tuple(row[1 : 1 + width]) for row in chosen),
            columns={name: sorted(str(row[1 + width + n]) for row in chosen) for n, name in enumerate(returning)},
        )
    # The batch is named by its rows' physical addresses (ctid): the DELETE then reads exactly those tuples
    # (a TID scan) instead of joining the table again by id; locked by the subquery, they cannot move.
    inner, params = selected.values_list(RawSQL("ctid", ()))[:size].query.sql_with_params()
    q = connection.ops.quote_name
    table = q(meta.db_table)
    keys = [_column(meta, name) for name in key]
    gone = ", ".join(dict.fromkeys([*keys, *(_column(meta, name) for name in returning)]))
    descending = ", ".join(f"{column} DESC" for column in keys)
    aggregates = "".join(
        f", (SELECT string_agg({c}::text, E'\\n' ORDER BY {c}) FROM gone)"  # noqa: S608
        for c in map(_column_of(meta), returning)
    )
    sql = (
        f"WITH gone AS (DELETE FROM {table} WHERE ctid = ANY(ARRAY({inner})) RETURNING {gone}), "  # noqa: S608
        f"last AS (SELECT {', '.join(keys)} FROM gone ORDER BY {descending} LIMIT 1) "
        f"SELECT (SELECT count(*) FROM gone){aggregates}, last.* FROM (SELECT 1) one LEFT JOIN last ON true"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    count = int(row[0])
    if not count:
        return None
    texts = row[1 : 1 + len(returning)]
    return Batch(
        count=count,
        last=tuple(row[1 + len(returning) :]),
        columns={name: (text or "").split("\n") for name, text in zip(returning, texts, strict=True)},
    )


def keyset(queryset: QuerySet[Any], *, key: Sequence[str], after: Key | None) -> QuerySet[Any]:
    """``queryset`` in ``key`` order, from the row after ``after`` on (``(a, b) > (x, y)``: an index range)."""
    selected = queryset.order_by(*key)
    if after is None:
        return selected
    if len(key) == 1:
        return selected.filter(**{f"{key[0]}__gt": after[0]})
    return selected.filter(TupleGreaterThan(Tuple(*(F(name) for name in key)), tuple(after)))


def has_dependents(model: type[Model]) -> bool:
    """True when another table's foreign key points at ``model`` with an ``on_delete`` that acts (not
    DO_NOTHING), or ``model`` has many-to-many rows: then a bare DELETE would leave that work undone."""
    for relation in model._meta.get_fields(include_hidden=True):
        if relation.many_to_many:
            return True  # its join table's rows go with it
        acts = getattr(relation, "on_delete", DO_NOTHING) is not DO_NOTHING
        if relation.auto_created and not relation.concrete and acts:
            return True
    return False


def delete_in_batches(
    queryset: QuerySet[Any],
    *,
    key: Sequence[str] = ("pk",),
    size: int = BATCH_SIZE,
    returning: Sequence[str] = (),
    after_delete: Callable[[Batch], Any] | None = None,
    bare: bool = False,
) -> int:
    """Delete every row of ``queryset``: batches of ``size``, each one transaction with one DELETE ...
    RETURNING (:func:`delete_batch`) and ``after_delete(batch)``. Returns the count."""
    deleted = 0
    after: Key | None = None
    while True:
        with transaction.atomic():
            batch = delete_batch(queryset, key=key, after=after, size=size, returning=returning, bare=bare)
            if batch is None:
                return deleted
            if after_delete is not None:
                after_delete(batch)
        deleted += batch.count
        after = batch.last


def _column_of(meta: Any) -> Callable[[str], str]:
    return lambda name: _column(meta, name)


def _column(meta: Any, name: str) -> str:
    column = meta.pk if name == "pk" else meta.get_field(name)
    return str(connection.ops.quote_name(column.column))
