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
one audit row). An ``after_delete`` that is an :class:`InStatement` puts part of that work into the batch's
statement itself, as more data-modifying CTEs over ``gone`` (the expiry forgets its requests' emails there:
their ids never come back to Python).

``key`` must be the columns of an index that matches the filter (e.g. ``expires_at, id`` for "expires_at <=
now"), so each batch reads only the rows it deletes: the keyset walks the index forward past the dead entries
of earlier batches instead of filtering them again. Rows another run holds are skipped, so two runs at once
never block each other or delete twice. The deleted rows come back as one row (a count, the last key, one
newline-joined string per column, sorted in Python), not 10,000 rows to decode.

A rule may instead name an advisory ``lock`` (the expiry of pending sign-ups does): its runs then take
turns batch by batch and the subquery locks no row, so each row is written once (the DELETE) instead of
twice (the lock, then the DELETE); see :func:`delete_batch` for why a row changed meanwhile stays safe.
Such a rule's run first asks PostgreSQL's planner how it would find the due rows: when it would read the
whole table (many rows due, a backlog), the run goes by ranges of the table's blocks instead of the index
(:func:`delete_by_blocks`: ``DELETE ... WHERE ctid >= '(b0,0)' AND ctid < '(b1,0)' AND <filter>``, a TID
range scan reading the heap in physical order, as one raw DELETE would).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import FullResultSet
from django.db import connection, transaction
from django.db.models import DO_NOTHING, F, IntegerField, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan

BATCH_SIZE = 10_000
LOCK_CLASS = 0x62756C6B  # "bulk": pg_advisory_xact_lock(LOCK_CLASS, rule's lock) serialises a rule's batches

Key = tuple[Any, ...]


@dataclass
class Batch:
    """One deleted batch: how many rows, the last key in ``key`` order, and the ``returning`` columns'
    values as text (one newline-joined string per column as the statement returned it, unordered; :meth:`values`
    gives them split and sorted, :meth:`text` as they came, e.g. to hand back to SQL). The values travel
    newline-joined, so return only columns without newlines: ids, pseudonyms, file names."""

    count: int
    last: Key
    columns: dict[str, list[str]] = field(default_factory=dict)
    more: bool = True  # False when the batch took the last rows its statement saw: no further batch is needed
    texts: dict[str, str] = field(default_factory=dict)
    model: Any = None
    in_statement: bool = False  # the batch's DELETE statement also ran its InStatement's CTEs

    def values(self, name: str) -> list[str]:
        if name not in self.columns:
            text = self.texts.get(name) or ""
            self.columns[name] = _sorted(self.model._meta, name, text.split("\n")) if text else []
        return self.columns[name]

    def text(self, name: str) -> str:
        """The column's values newline-joined, in no particular order."""
        if name in self.texts:
            return self.texts[name] or ""
        return "\n".join(self.columns[name])


@dataclass(frozen=True)
class InStatement:
    """An ``after_delete`` part of whose work goes into the batch's own DELETE statement, as more data-modifying
    CTEs over the deleted rows (so what they need never comes back to Python, and no statement more is sent).

    ``ctes(gone)`` gives those CTEs (``name AS (...), ...``, reading the deleted rows from the CTE ``gone``, which
    returns every ``returning`` column) and their parameters; ``consumes`` names the ``returning`` columns only
    they need, which the statement then does not aggregate and send back. ``then(batch)`` runs after the
    statement, in the same transaction. Where a batch was deleted without them (Django's collector, or this
    object called from another ``after_delete``), ``otherwise(batch)`` does their work from the batch's columns
    instead, before ``then``: whichever way the batch went, the work is done once, in its transaction.
    """

    ctes: Callable[[str], tuple[str, list[Any]]]
    consumes: tuple[str, ...] = ()
    then: Callable[[Batch], Any] | None = None
    otherwise: Callable[[Batch], Any] | None = None

    def __call__(self, batch: Batch) -> Any:
        if not batch.in_statement and self.otherwise is not None:
            self.otherwise(batch)
        return None if self.then is None else self.then(batch)

    def sent_back(self, returning: Sequence[str]) -> list[str]:
        """The ``returning`` columns the statement aggregates and sends back: those the CTEs alone do not use."""
        return [name for name in returning if name not in self.consumes]


def _in_statement(after_delete: Callable[[Batch], Any] | None) -> InStatement | None:
    return after_delete if isinstance(after_delete, InStatement) else None


def delete_batch(
    queryset: QuerySet[Any],
    *,
    key: Sequence[str] = ("pk",),
    after: Key | None = None,
    size: int = BATCH_SIZE,
    returning: Sequence[str] = (),
    bare: bool = False,
    lock: int | None = None,
    also: InStatement | None = None,
) -> Batch | None:
    """Delete the next ``size`` rows of ``queryset`` in ``key`` order after ``after``; one statement (with
    ``also``'s CTEs over the deleted rows, when the rows go without Django's collector: :class:`InStatement`).

    Returns None when nothing was left. Runs in the caller's transaction (it needs one: the rows are
    locked until it ends). Rows other tables point at go through Django's collector (their dependents
    with them) unless ``bare``: the caller then handles the dependents in the same transaction (foreign
    keys are checked at commit).

    ``lock`` (bare deletes, or tables nothing points at): instead of locking each row first (``FOR UPDATE SKIP
    LOCKED``, which writes every row twice), the batch takes the transaction-scoped advisory lock
    ``(LOCK_CLASS, lock)``, so the runs of one rule take turns, and deletes the rows it chose by their
    physical address. A row another transaction changes or deletes meanwhile is safe under READ COMMITTED:
    the DELETE waits for that transaction, and a changed row is a new version at another address, which the
    ``ctid`` condition (re-checked on the current version) no longer matches: it is left for the next run, never
    deleted on the strength of its old values; a deleted row is skipped and never returned.
    """
    model = queryset.model
    meta = model._meta
    locked_rows = lock is None or (not bare and has_dependents(model))
    selected = keyset(queryset, key=key, after=after)
    if locked_rows:
        selected = selected.select_for_update(skip_locked=True, of=("self",))
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, lock])
    if not bare and has_dependents(model):
        # Rows other tables point at (a user: CASCADE and SET_NULL everywhere): Django's collector deletes
        # the batch with its dependents; the batch is still chosen by one keyset statement.
        chosen = list(selected.values_list("pk", *key, *returning)[: size + 1])
        more = len(chosen) > size
        chosen = chosen[:size]
        if not chosen:
            return None
        model._base_manager.filter(pk__in=[row[0] for row in chosen]).delete()
        width = len(key)
        return Batch(
            count=len(chosen),
            last=max(tuple(row[1 : 1 + width]) for row in chosen),
            columns={name: sorted(str(row[1 + width + n]) for row in chosen) for n, name in enumerate(returning)},
            more=more,
        )
    # The batch is named by its rows' physical addresses (ctid): the DELETE then reads exactly those tuples
    # (a TID scan) instead of joining the table again by id; locked by the subquery, they cannot move.
    # One row more than the batch is read (not deleted): whether another batch is needed, without a last empty one.
    inner, params = selected.values_list(RawSQL("ctid", ()))[: size + 1].query.sql_with_params()
    q = connection.ops.quote_name
    table = q(meta.db_table)
    keys = [_column(meta, name) for name in key]
    gone = ", ".join(dict.fromkeys([*keys, *(_column(meta, name) for name in returning)]))
    descending = ", ".join(f"{column} DESC" for column in keys)
    sent = returning if also is None else also.sent_back(returning)
    # unordered: ordering 10,000 values inside the statement cost as much as the DELETE; sorted here instead
    aggregates = "".join(
        f", (SELECT string_agg({c}::text, E'\\n') FROM gone)"  # noqa: S608
        for c in map(_column_of(meta), sent)
    )
    more_ctes, more_params = ("", []) if also is None else also.ctes("gone")
    batch = f"(SELECT tids[1:{int(size)}] FROM chosen)::tid[]"  # noqa: S608
    sql = (
        f"WITH chosen AS (SELECT ARRAY({inner}) AS tids), "  # noqa: S608
        f"gone AS (DELETE FROM {table} WHERE ctid = ANY({batch}) RETURNING {gone}), "
        f"{more_ctes + ', ' if more_ctes else ''}"
        f"last AS (SELECT {', '.join(keys)} FROM gone ORDER BY {descending} LIMIT 1) "
        f"SELECT (SELECT count(*) FROM gone){aggregates}, (SELECT cardinality(tids) > {int(size)} FROM chosen), "
        "last.* FROM (SELECT 1) one LEFT JOIN last ON true"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *more_params])
        row = cursor.fetchone()
    count = int(row[0])
    if not count:
        return None
    texts = row[1 : 1 + len(sent)]
    return Batch(
        count=count,
        last=tuple(row[2 + len(sent) :]),
        more=bool(row[1 + len(sent)]),
        texts=dict(zip(sent, texts, strict=True)),
        model=model,
        in_statement=also is not None,
    )


def _sorted(meta: Any, name: str, values: list[str]) -> list[str]:
    """The values in their column's order: integers (keys included) as numbers, anything else by code point."""
    field = meta.pk if name == "pk" else meta.get_field(name)
    if isinstance(getattr(field, "target_field", field), IntegerField):
        return sorted(values, key=int)
    return sorted(values)


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
    lock: int | None = None,
) -> int:
    """Delete every row of ``queryset``: batches of ``size``, each one transaction with one DELETE ...
    RETURNING (:func:`delete_batch`, ``lock`` as there) and ``after_delete(batch)``. Returns the count.

    The run ends with the batch that took the last rows its statement saw (each batch reads one row more than it
    deletes to know), so there is no last empty batch; rows skipped because another transaction held or
    changed them are left for the next run either way."""
    if lock is not None and (bare or not has_dependents(model_of(queryset))):
        by_blocks = delete_by_blocks(queryset, size=size, returning=returning, after_delete=after_delete, lock=lock)
        if by_blocks is not None:
            return by_blocks
    deleted = 0
    after: Key | None = None
    while True:
        with transaction.atomic():
            batch = delete_batch(
                queryset,
                key=key,
                after=after,
                size=size,
                returning=returning,
                bare=bare,
                lock=lock,
                also=_in_statement(after_delete),
            )
            if batch is None:
                return deleted
            if after_delete is not None:
                after_delete(batch)
        deleted += batch.count
        if not batch.more:
            return deleted
        after = batch.last


def model_of(queryset: QuerySet[Any]) -> type[Model]:
    return queryset.model


# --- batches by block ranges ------------------------------------------------------------------------------
# When a large share of a table is due (a backlog: the expiry after its worker was down, the benchmark's
# half-expired table), reading the due rows through their index means a heap visit for each in index order;
# a rule that takes turns on a ``lock`` (its DELETE needs no row lock first) then deletes by ranges of the table's
# blocks instead, reading the heap in physical order as a single DELETE would (PostgreSQL's TID range scan). Which
# way is PostgreSQL's own choice: the block ranges when its planner would read the whole table for one DELETE of
# the due rows (a sequential scan: many rows due, or spread over the table), the index otherwise.
BLOCKS_MIN_ROWS = 1_000  # a few due rows always go through the index
BLOCKS_MAX_FACTOR = 2  # a range spans at most the blocks that hold this many batches' rows of the table


@dataclass(frozen=True)
class Extent:
    """What the block path plans with: the table's length in blocks now, its rows per block (pg_class's
    ``reltuples / relpages``, from the last VACUUM or ANALYZE), the planner's estimate of the rows due and
    whether it would read them with a sequential scan."""

    blocks: int
    rows_per_block: float
    due: float
    sequential: bool


def extent(queryset: QuerySet[Any], where: str, params: Sequence[Any]) -> Extent | None:
    """The table's :class:`Extent` for the rows ``where`` selects, or None when its statistics are unknown (never
    analysed). One round trip: the statistics, then the plan of ``SELECT ctid FROM t WHERE <where>`` (not run),
    the scan a DELETE of those rows would make."""
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relpages, reltuples, pg_relation_size(oid) / current_setting('block_size')::int FROM pg_class "  # noqa: S608
            f"WHERE oid = %s::regclass; EXPLAIN (FORMAT JSON) SELECT ctid FROM {table} WHERE {where}",
            [table, *params],
        )
        pages, tuples, blocks = cursor.fetchone()
        cursor.nextset()
        plan = cursor.fetchone()[0]
    if pages <= 0 or tuples <= 0:
        return None
    if isinstance(plan, str):
        plan = json.loads(plan)
    scan = plan[0]["Plan"]  # the scan a DELETE of these rows would make (ctid: never an index-only scan)
    return Extent(
        blocks=int(blocks),
        rows_per_block=tuples / pages,
        due=float(scan["Plan Rows"]),
        sequential=scan["Node Type"] == "Seq Scan",
    )


def _filter(queryset: QuerySet[Any]) -> tuple[str, list[Any]] | None:
    """The queryset's WHERE clause on its own table (columns named by the table), or None when it needs more
    than its table (a join, a slice, DISTINCT)."""
    query = queryset.query
    if len(query.alias_map) > 1 or query.is_sliced or query.distinct or query.combinator:
        return None
    try:
        where, params = query.get_compiler(connection=connection).compile(query.where)
    except FullResultSet:
        return "true", []
    return f"({where})", list(params)


def delete_by_blocks(
    queryset: QuerySet[Any],
    *,
    size: int = BATCH_SIZE,
    returning: Sequence[str] = (),
    after_delete: Callable[[Batch], Any] | None = None,
    lock: int,
) -> int | None:
    """Delete every row of ``queryset`` by ranges of the table's blocks, each range one transaction with one
    ``DELETE ... WHERE ctid >= '(b0,0)' AND ctid < '(b1,0)' AND <filter> RETURNING`` (a TID range scan: the
    heap read in order, each block once) after the advisory lock ``(LOCK_CLASS, lock)``, then
    ``after_delete(batch)`` when the range held due rows. Returns the count, or None (nothing done) when
    PostgreSQL's planner would find the due rows through an index (few of them, or gathered in a part of the
    table) or expects fewer than ``BLOCKS_MIN_ROWS``: the index path (:func:`delete_batch`) is cheaper then.

    A range spans the blocks that should hold ``size`` due rows: the first from the planner's estimate, each
    next from what the range before found (fewer due rows: a wider range), between the blocks that hold
    ``size`` rows of the table and ``BLOCKS_MAX_FACTOR`` times that, so a batch holds about
    ``BLOCKS_MAX_FACTOR * size`` rows at most (more where the range's blocks hold live rows more densely than
    the table's average: after updates left dead rows in other blocks; the bound is on the blocks). The run
    resumes by block number; the last range is open-ended (rows that moved past the table's end while the run
    went). Two runs at once take turns range by range on the
    lock; each DELETE's snapshot is taken after the lock, so a row the other run deleted is not seen, and a row
    a parent's answer changed meanwhile is re-checked on its current version (:func:`delete_batch`).
    """
    model = queryset.model
    meta = model._meta
    condition = _filter(queryset)
    if condition is None:
        return None
    where, params = condition
    planned = extent(queryset, where, params)
    if planned is None or not planned.sequential or planned.due < BLOCKS_MIN_ROWS:
        return None
    least = max(1, math.ceil(size / planned.rows_per_block))
    most = BLOCKS_MAX_FACTOR * least
    span = min(most, max(least, math.ceil(planned.blocks * size / planned.due)))
    q = connection.ops.quote_name
    table = q(meta.db_table)
    also = _in_statement(after_delete)
    sent = list(returning) if also is None else also.sent_back(returning)
    gone = ", ".join(_column(meta, name) for name in returning) or "1"
    aggregates = "".join(f", string_agg({c}::text, E'\\n')" for c in map(_column_of(meta), sent))
    more_ctes, more_params = ("", []) if also is None else also.ctes("gone")
    deleted, start = 0, 0
    while True:
        end = start + span
        last = end >= planned.blocks
        bounds = f"ctid >= '({start},0)'::tid" + ("" if last else f" AND ctid < '({end},0)'::tid")
        sql = (
            f"WITH gone AS (DELETE FROM {table} WHERE {bounds} AND {where} RETURNING {gone}) "  # noqa: S608
            f"{', ' + more_ctes + ' ' if more_ctes else ''}SELECT count(*){aggregates} FROM gone"
        )
        with transaction.atomic():
            with connection.cursor() as cursor:
                # one round trip, two statements: the DELETE's snapshot is taken once the lock is held
                cursor.execute(
                    f"SELECT pg_advisory_xact_lock(%s, %s); {sql}", [LOCK_CLASS, lock, *params, *more_params]
                )
                cursor.nextset()
                row = cursor.fetchone()
            count = int(row[0])
            if count:
                batch = Batch(
                    count=count,
                    last=(end,),
                    more=not last,
                    texts=dict(zip(sent, row[1:], strict=True)),
                    model=model,
                    in_statement=also is not None,
                )
                if after_delete is not None:
                    after_delete(batch)
        deleted += count
        if last:
            return deleted
        start = end
        span = most if not count else min(most, max(least, round(span * size / count)))


def _column_of(meta: Any) -> Callable[[str], str]:
    return lambda name: _column(meta, name)


def _column(meta: Any, name: str) -> str:
    column = meta.pk if name == "pk" else meta.get_field(name)
    return str(connection.ops.quote_name(column.column))
