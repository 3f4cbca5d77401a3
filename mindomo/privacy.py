"""The privacy registry: every app declares the personal data it holds and can export and erase it.

Erasing a person goes through one path only, the accounts pipeline (``accounts.services.account_erase_now`` or
a deletion request after its grace period), which runs each provider's erasure as one recorded step: the
statements of every provider (``erase_statements``) sent together as one string in one transaction, or, after
that transaction failed, each provider alone (its ``erase``, the same statements) in its own.

The pattern of Moodle's privacy API. Each app has a ``privacy.py`` module that registers one
:class:`PrivacyProvider`; export, deletion, the parent portal's overview and the retention engine all
work through the registry, so a new kind of personal data is handled everywhere once it is declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.models import signals
from django.db.models.expressions import Col
from django.db.models.lookups import Exact
from django.db.models.sql import UpdateQuery
from django.db.models.sql.where import OR, WhereNode
from django.utils import translation
from django.utils.functional import Promise
from django.utils.module_loading import autodiscover_modules

from mindomo import cascade, prepared, statements

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from mindomo.bulk import Batch

# The data subject: the user model (accounts.User). mindomo is the bottom layer and names no app's model.
User = Any


@dataclass(frozen=True)
class DataCategory:
    """One kind of personal data an app keeps: where it lives, why, and for how long."""

    model: str  # "app_label.ModelName"
    fields: tuple[str, ...]
    purpose: str | Promise
    retention: str | Promise
    # Field holding the data subject's user id, for the staff access log ("" = the row is the user, or
    # the model's first foreign key to the user model).
    subject: str = ""


@dataclass(frozen=True)
class RetentionRule:
    """Which rows an app deletes, after how long, counted from which date.

    ``expired(now)`` returns the queryset of rows past retention at ``now``; the retention engine
    (privacy.services.retention_apply) deletes them with ``mindomo.bulk.delete_in_batches``: batches of
    10,000, one ``DELETE ... WHERE id IN (SELECT id ... ORDER BY key ... FOR UPDATE SKIP LOCKED LIMIT n)
    RETURNING key, returning`` each, in keyset order on ``key``, which must be the columns of an index
    matching the filter (for "created_at < cutoff": an index on (created_at, id)). ``after_delete(rows)``
    runs in the batch's transaction with the deleted batch (``mindomo.bulk.Batch``: its count and the
    ``returning`` columns; for an audit row, a ledger entry). Rows other
    tables point at are deleted with their dependents by Django's collector, unless ``bare``.

    ``purge`` instead, where removing needs more than a DELETE (files to remove, records to de-identify):
    it gets the primary keys of each batch, selected in the same keyset order.
    """

    name: str
    description: str | Promise
    period: str | Promise
    expired: Callable[[datetime], QuerySet[Any]]
    purge: Callable[[list[Any]], int] | None = None
    key: tuple[str, ...] = ("pk",)
    returning: tuple[str, ...] = ()
    after_delete: Callable[[Batch], Any] | None = None
    bare: bool = False  # after_delete handles the rows that point at the deleted ones (mindomo.bulk)
    lock: int | None = None  # the rule's runs take turns on this advisory lock instead of locking rows (mindomo.bulk)


@dataclass(frozen=True)
class Count:
    """A summary item: how many rows ``rows`` has (an int in the summary)."""

    rows: QuerySet[Any]


@dataclass(frozen=True)
class First:
    """A summary item: the first row of ``rows`` (a ``.values(...)`` queryset) as a dict, or None."""

    rows: QuerySet[Any]


@dataclass(frozen=True)
class Rows:
    """A summary item: the first ``limit`` rows (None: all) of ``rows`` (a ``.values(...)`` queryset) as dicts."""

    rows: QuerySet[Any]
    limit: int | None = 10


SummaryItem = Count | First | Rows


class PrivacyProvider:
    """Base class of an app's privacy provider.

    ``erase_order``: providers erase in increasing order; the accounts provider, which deletes the
    user row itself, goes last.
    """

    name: str = ""
    label: str | Promise = ""
    erase_order: int = 100
    # The record of processing (GDPR Art. 30; privacy.selectors.processing_records): why the law allows this
    # processing, whose data it is, and the registered third parties (consent.ThirdParty names) that receive it
    # besides the data centres, which receive everything.
    legal_basis: str | Promise = ""
    data_subjects: str | Promise = ""
    recipients: tuple[str, ...] = ()

    def declarations(self) -> Iterable[DataCategory]:
        raise NotImplementedError

    def export(self, user: User) -> dict[str, Any]:
        """A JSON-serialisable document with everything this app holds about ``user``."""
        raise NotImplementedError

    def summary(self, user: User) -> dict[str, Any]:
        """The overview of what this app holds about ``user``, for the parent's page: for each key of
        ``export`` that may hold something, a :class:`Count`, :class:`First` or :class:`Rows` item (all
        providers' items are read in one statement by :meth:`PrivacyRegistry.summarise_user`) or a plain value.

        Without its own summary a provider is summarised by its full export (correct, not cheap).

        The registry first asks for it with a :class:`Subject` (the person by primary key only) and, when that
        gives items only, compiles them once per process (``mindomo.statements``): the items' querysets must then
        depend on ``user.pk`` alone (and the active language), never on the database's state or the time of day
        except through parameters (a date parameter is never reused)."""
        return self.export(user)

    def erase_statements(self, user: User) -> list[ErasePart] | None:
        """The erasure as a list of parts run in order: :class:`Statement` s (the helpers :func:`delete`,
        :func:`update` compile them from querysets as the ORM would run them) and, where SQL is not enough,
        callables. The erasure pipeline sends the statements of all providers together, one round trip for the
        whole erasure (a callable sends the statements before it first). None (the default): the provider
        erases through its own :meth:`erase` only.

        Build only, run nothing: the parts run later, after the parts of the providers before this one."""
        return None

    def erase(self, user: User) -> None:
        """Delete (or irreversibly de-identify, where the law obliges us to keep a record) the data.

        A provider either overrides this or declares :meth:`erase_statements`, which this default runs (its own
        transaction, one round trip for the statements): the same parts whether the provider runs alone (the
        pipeline's fallback, one provider a transaction) or with the others."""
        parts = self.erase_statements(user)
        if parts is None:
            raise NotImplementedError
        with transaction.atomic(savepoint=False):
            erase_run(parts)

    def retention_rules(self) -> Iterable[RetentionRule]:
        return []


@dataclass(frozen=True)
class Statement:
    """One statement of an erasure: DB-API text (``%s`` placeholders, ``%%`` for a percent sign), its
    parameters, and ``rows``, called with the rows it returns (a ``RETURNING`` clause: files to delete, cache
    keys to drop) right after the round trip that ran it, in the erasure's transaction."""

    sql: str
    params: tuple[Any, ...] | list[Any] = ()
    rows: Callable[[list[tuple[Any, ...]]], Any] | None = None
    # (table, column, value): once it has run, no row of ``table`` has ``value`` in ``column`` (deleted, or the
    # column set to NULL); :func:`delete` and :func:`update` fill it in from their queryset's condition
    clears: tuple[tuple[str, str, Any], ...] = ()
    # left out by :func:`erase_run` when a statement before it in the same run cleared this (it would find
    # nothing: the user row's cascade revisiting a table a provider already emptied); never one with ``rows``
    unless_cleared: tuple[str, str, Any] | None = None
    # the text is the same for every person (their values only in ``params``): sent as a prepared statement of
    # the session (``mindomo.prepared``)
    prepare: bool = False


ErasePart = Statement | Callable[[], Any]


def _implied(where: Any, table: str) -> set[tuple[str, Any]]:
    """The (column, value) pairs of ``table`` whose rows all match ``where``: an exact match of a column of the
    table with an integer, in an AND of one condition or in an OR (a row matching ``column = value`` matches
    the OR)."""
    if isinstance(where, WhereNode):
        if where.negated or not where.children:
            return set()
        found = [_implied(child, table) for child in where.children]
        if where.connector == OR:
            return set().union(*found)
        return set.intersection(*found)
    if isinstance(where, Exact) and isinstance(where.lhs, Col) and where.lhs.alias == table:
        value, column = where.rhs, where.lhs.target.column
        if type(value) is int and column:
            return {(column, value)}
    return set()


def _clears(queryset: QuerySet[Any], columns: Iterable[str] | None = None) -> tuple[tuple[str, str, Any], ...]:
    """What deleting the rows of ``queryset`` (or setting ``columns`` to NULL in them) clears."""
    table = queryset.model._meta.db_table
    implied = _implied(queryset.query.where, table)
    if columns is not None:
        implied = {(column, value) for column, value in implied if column in set(columns)}
    return tuple(sorted((table, column, value) for column, value in implied))


def delete(queryset: QuerySet[Any]) -> list[ErasePart]:
    """The parts of ``queryset.delete()``: one ``DELETE`` when the collector would read nothing, the cascade's
    statements (``mindomo.cascade.delete_statements``) for rows with dependents, else the collector itself."""
    found = cascade.delete_statements(queryset)
    if found is None:
        return [queryset.delete]
    clears = _clears(queryset)  # the last statement deletes the queryset's rows (children first)
    return [
        Statement(sql, params, clears=clears if n == len(found) - 1 else ()) for n, (sql, params) in enumerate(found)
    ]


def update(queryset: QuerySet[Any], **values: Any) -> list[ErasePart]:
    """The part of ``queryset.update(**values)``: the ``UPDATE`` the ORM would run (plain values and
    expressions of the row's own columns)."""
    query: Any = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    query.annotations = {}
    try:
        sql, params = query.get_compiler(queryset.db).as_sql()
    except EmptyResultSet:
        return []
    nulled = [queryset.model._meta.get_field(name).column for name, value in values.items() if value is None]
    return [Statement(sql, list(params), clears=_clears(queryset, nulled))] if sql else []


def erase_parts(provider: PrivacyProvider, user: User) -> list[ErasePart]:
    """What the pipeline runs for ``provider``: its statements, or a call of its own :meth:`~PrivacyProvider.erase`
    when it overrides it (or a test replaced it on the instance).

    The statements are built once per process and shape (see :func:`_erase_template`), then bound to each
    person's primary key and email: building querysets and compiling them cost more than running them."""
    own = getattr(provider.erase, "__func__", None) is not PrivacyProvider.erase
    if own:
        return [partial(provider.erase, user)]
    build = provider.erase_statements
    parts = _erase_bound(build, user)
    if parts is None:
        parts = build(user)
    if parts is None:
        return [partial(provider.erase, user)]
    return parts


class _Person:
    """A person known by primary key and email only: what an erasure's statements are built from to be reused
    (any other attribute raises AttributeError: that provider is then built from the real user each time)."""

    __slots__ = ("email", "pk")

    def __init__(self, pk: int, email: Any) -> None:
        self.pk, self.email = pk, email

    @property
    def id(self) -> int:
        return self.pk


# Probe people: primary keys no row has, emails whose variants below all differ (case, surrounding spaces).
_PROBES = ((-(1 << 60), " Probe.Erase.A@Example.Invalid "), (-(1 << 61), " Probe.Erase.B@Example.Invalid "))
_VARIANTS: dict[str, Callable[[int, str], Any]] = {
    "pk": lambda pk, email: pk,
    "email": lambda pk, email: email,
    "email.lower": lambda pk, email: email.lower(),
    "email.upper": lambda pk, email: email.upper(),
    "email.strip": lambda pk, email: email.strip(),
    "email.strip.lower": lambda pk, email: email.strip().lower(),
}
_CONSTANTS = (str, int, Decimal, type(None))
_MAX_TEMPLATES = 256
_UNUSABLE = object()
_erase_templates: dict[Any, Any] = {}


def _erase_bound(build: Callable[[Any], list[ErasePart] | None], user: User) -> list[ErasePart] | None:
    """``build(user)`` from the statements built once for this build, shape and language, or None when they
    cannot be reused (the caller builds in full).

    Shapes: whether the person has an email (a build may branch on it; the falsy email itself, "" or None, is
    part of the shape), the delete receivers connected now (they decide between statements and the collector),
    the language, the cascade's plans (``mindomo.cascade.plan``). The first call of a shape builds for two probe
    people and keeps the result only when both give the same statements, with every parameter either the
    probe's primary key or email (or its lower/upper case, stripped: ``_VARIANTS``) at the same place in both,
    or the same constant (text, integer, decimal, None: never a date or a time), and what a statement
    ``clears`` or is left out ``unless_cleared`` either the probe's primary key or the same integer in both; no
    callable part; a ``rows`` callback of the same code holding the very same objects in both (nothing of the
    person). A build must not branch on the value of the key or the email (only on whether there is an email).
    Inside ``mindomo.cascade.collector_only`` (the fallback) nothing is reused."""
    if cascade.collector_only_now():
        return None
    email = user.email
    key = (
        getattr(build, "__func__", build),
        bool(email) or email,
        translation.get_language(),
        tuple(entry[0] for signal in (signals.pre_delete, signals.post_delete) for entry in signal.receivers),
        cascade.plan,  # the plans the statements come from (one function per process, unless a test replaces it)
    )
    template = _erase_templates.get(key)
    if template is None:
        template = _erase_template(build, None if email else email)
        if len(_erase_templates) >= _MAX_TEMPLATES:
            _erase_templates.clear()
        _erase_templates[key] = template
    if template is _UNUSABLE:
        return None
    return [
        Statement(
            sql,
            [item[2](_VARIANTS[item[1]](user.pk, email)) if item[0] else item[1] for item in spec],
            rows,
            tuple((table, column, user.pk if key else value) for table, column, key, value in clears),
            None if unless is None else (unless[0], unless[1], user.pk if unless[2] else unless[3]),
            prepare=True,
        )
        for sql, spec, rows, clears, unless in template
    ]


def _erase_template(build: Callable[[Any], list[ErasePart] | None], falsy_email: Any) -> Any:
    """``[(sql, spec, rows, clears, unless)]``, ``spec`` holding for each parameter ``(True, a variant's name, the
    type it is given as)`` or ``(False, a constant)``, ``clears`` each cleared ``(table, column, True, None)`` for
    the person's key or ``(table, column, False, a constant)``, ``unless`` the ``unless_cleared`` the same way (or
    None); ``_UNUSABLE`` when the build fails the checks of
    :func:`_erase_bound`."""
    probes = [_Person(pk, email if falsy_email is None else falsy_email) for pk, email in _PROBES]
    try:
        built = [build(probe) for probe in probes]
    except Exception:  # it reads more of the person than the key and the email
        return _UNUSABLE
    first, second = built
    if first is None or second is None or len(first) != len(second):
        return _UNUSABLE
    template = []
    for a, b in zip(first, second, strict=True):
        if not isinstance(a, Statement) or not isinstance(b, Statement) or a.sql != b.sql:
            return _UNUSABLE
        if len(a.params) != len(b.params) or not _same_callback(a.rows, b.rows):
            return _UNUSABLE
        spec: list[Any] = []
        for value_a, value_b in zip(a.params, b.params, strict=True):
            variant = next(
                (
                    name
                    for name, make in _VARIANTS.items()
                    if _match(value_a, make(*_probe_values(probes[0])))
                    and _match(value_b, make(*_probe_values(probes[1])))
                ),
                None,
            )
            if variant is not None and type(value_a) is type(value_b):
                spec.append((True, variant, type(value_a)))
            elif isinstance(value_a, _CONSTANTS) and type(value_a) is type(value_b) and value_a == value_b:
                spec.append((False, value_a))
            else:
                return _UNUSABLE
        if (a.unless_cleared is None) != (b.unless_cleared is None) or len(a.clears) != len(b.clears):
            return _UNUSABLE
        clears: list[tuple[str, str, bool, Any]] = []
        for cleared_a, cleared_b in zip(a.clears, b.clears, strict=True):
            cleared = _cleared_spec(cleared_a, cleared_b, probes)
            if cleared is None:
                return _UNUSABLE
            clears.append(cleared)
        unless = None
        if a.unless_cleared is not None and b.unless_cleared is not None:
            unless = _cleared_spec(a.unless_cleared, b.unless_cleared, probes)
            if unless is None:
                return _UNUSABLE
        template.append((a.sql, spec, a.rows, clears, unless))
    return template


def _cleared_spec(
    a: tuple[str, str, Any], b: tuple[str, str, Any], probes: list[_Person]
) -> tuple[str, str, bool, Any] | None:
    """A ``clears`` or ``unless_cleared`` entry of the two probes' builds as ``(table, column, True, None)`` for the
    person's key or ``(table, column, False, a constant integer)``; None when it is neither."""
    (table_a, column_a, value_a), (table_b, column_b, value_b) = a, b
    if (table_a, column_a) != (table_b, column_b):
        return None
    if (value_a, value_b) == (probes[0].pk, probes[1].pk):
        return (table_a, column_a, True, None)
    if value_a == value_b and type(value_a) is int:
        return (table_a, column_a, False, value_a)
    return None


def _probe_values(probe: _Person) -> tuple[int, str]:
    return probe.pk, probe.email if isinstance(probe.email, str) else ""


def _match(value: Any, wanted: Any) -> bool:
    """``value`` is the probe's value ``wanted``: the same text, or the key as an integer (psycopg's ``Int8``
    included, as Django may give a big integer; booleans and a model's integer choices are constants)."""
    if isinstance(wanted, str):
        return bool(wanted) and type(value) is str and value == wanted  # no email: "" is a constant
    return isinstance(value, int) and not isinstance(value, (bool, Enum)) and value == wanted


def _same_callback(a: Any, b: Any) -> bool:
    """Both None, or the same function holding the very same objects (so it holds nothing of the probe)."""
    if a is None or b is None:
        return a is b
    code_a, code_b = getattr(a, "__code__", None), getattr(b, "__code__", None)
    if code_a is None or code_a is not code_b:
        return a is b
    cells_a, cells_b = a.__closure__ or (), b.__closure__ or ()
    if len(cells_a) != len(cells_b):
        return False
    return all(x.cell_contents is y.cell_contents for x, y in zip(cells_a, cells_b, strict=True))


def forget() -> None:
    """Drop every remembered erasure template (tests)."""
    _erase_templates.clear()


def erase_run(parts: Iterable[ErasePart], *, using: str = "default") -> None:
    """Run erasure parts in order in the caller's transaction: consecutive statements as one string (one round
    trip; each statement's returned rows handed to its ``rows``), a callable after the statements before it.

    A statement whose ``unless_cleared`` a statement before it in this run cleared is left out (it would find
    nothing); a callable may write anything, so what was cleared before it no longer counts."""
    batch: list[Statement] = []
    cleared: set[tuple[str, str, Any]] = set()

    def send() -> None:
        if not batch:
            return
        composed = prepared.compose([(s.sql, s.params, s.prepare) for s in batch], using=using)
        with connections[using].cursor() as cursor:
            try:
                cursor.execute(composed.sql, composed.params)
            except Exception:
                prepared.settled(composed, ok=False)
                raise
            prepared.settled(composed, ok=True)
            position = 0
            for statement, result in zip(batch, composed.results, strict=True):
                while position < result:
                    cursor.nextset()  # one result per statement (and per PREPARE), in order
                    position += 1
                if statement.rows is not None:
                    statement.rows(cursor.fetchall())
        batch.clear()

    for part in parts:
        if isinstance(part, Statement):
            if part.unless_cleared is not None and part.rows is None and part.unless_cleared in cleared:
                continue
            batch.append(part)
            cleared.update(part.clears)
        else:
            send()
            part()
            cleared.clear()
    send()


class PrivacyRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, PrivacyProvider] = {}

    def register(self, provider_class: type[PrivacyProvider]) -> type[PrivacyProvider]:
        provider = provider_class()
        if not provider.name:
            raise ValueError(f"{provider_class.__name__} has no name")
        if provider.name in self._providers:
            raise ValueError(f"a privacy provider named {provider.name!r} is already registered")
        self._providers[provider.name] = provider
        return provider_class

    def providers(self) -> list[PrivacyProvider]:
        return sorted(self._providers.values(), key=lambda p: (p.erase_order, p.name))

    def get(self, name: str) -> PrivacyProvider:
        return self._providers[name]

    def declarations(self) -> list[tuple[PrivacyProvider, DataCategory]]:
        return [(p, d) for p in self.providers() for d in p.declarations()]

    def retention_rules(self) -> list[tuple[PrivacyProvider, RetentionRule]]:
        return [(p, r) for p in self.providers() for r in p.retention_rules()]

    def export_user(self, user: User) -> dict[str, dict[str, Any]]:
        return {p.name: p.export(user) for p in self.providers()}

    def summarise_user(
        self, user: User, *, also: list[SummaryItem] | Callable[[Subject], list[SummaryItem]] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Every provider's summary with its items read: counts as ints, rows as dicts (dates as ISO text).

        The items of all providers become scalar subqueries of one ``SELECT``: one round trip whatever the
        number of providers or of the user's rows. ``also``: more items the caller needs in the same round
        trip, read into ``summaries[""]`` in their order (key = position): a list, or a module-level function of
        a :class:`Subject` (the person by primary key: then compiled once per process, as below).

        A provider whose summary uses only ``user.pk`` and ``user.email`` (as a parameter, as stored) and holds only
        items is compiled once per process (``mindomo.statements``, given a :class:`Subject` instead of the user);
        any other (plain values, other attributes of the user, the address transformed in Python) is built and
        compiled for each call, with the real user."""
        parts: list[tuple[str, tuple[str, list[Any], Any]]] = []
        summaries: dict[str, dict[str, Any]] = {}
        for provider in self.providers():
            compiled = statements.bind(
                ("privacy.summary", provider.name), partial(_summary_statement, provider.summary), user.pk, user.email
            )
            if compiled is None:
                summaries[provider.name] = provider.summary(user)
                compiled = _items_statement(summaries[provider.name])
            else:
                summaries[provider.name] = {}
            parts.append((provider.name, compiled))
        summaries[""] = {}
        if callable(also):
            # only a module-level function is one statement: a closure may hold other values on each call
            qualname = getattr(also, "__qualname__", "<locals>")
            reusable = getattr(also, "__closure__", None) is None and "<" not in qualname
            key = ("privacy.also", getattr(also, "__module__", ""), qualname)
            compiled_also = statements.bind(key, partial(_summary_statement, also), user.pk) if reusable else None
            if compiled_also is None:
                compiled_also = _items_statement(_positions(also(Subject(user.pk))))
        else:
            compiled_also = _items_statement(_positions(also or []))
        parts.append(("", compiled_also))
        columns = [sql for _name, (sql, _params, _meta) in parts if sql]
        params = [value for _name, (_sql, part_params, _meta) in parts for value in part_params]
        database = next((meta[0] for _name, (_sql, _params, meta) in parts if meta[1]), "default")
        values = iter(_execute(database, columns, params))
        for name, (_sql, _params, meta) in parts:
            for key in meta[1]:
                summaries[name][key] = next(values)
        return summaries


class Subject:
    """A person known by primary key (and, for a provider's summary, email address) only: what a provider's
    summary is given to be compiled once per process (any other attribute it reads raises, and that provider is
    then summarised from the real user each time)."""

    __slots__ = ("_email", "pk")

    def __init__(self, pk: int, email: str | None = None) -> None:
        self.pk = pk
        self._email = email

    @property
    def id(self) -> int:
        return self.pk

    @property
    def email(self) -> str:
        if self._email is None:
            raise AttributeError("email")
        return self._email


class _PlainValue(Exception):
    """A summary holding a plain value (not an item): built from the real user on every call."""


def _positions(items: list[SummaryItem]) -> dict[str, SummaryItem]:
    return {str(n): item for n, item in enumerate(items)}


def _summary_statement(summary: Callable[[Any], Any], pk: int, email: str | None = None) -> tuple[str, list[Any], Any]:
    """The columns of ``summary(Subject(pk, email))``: a dict of items (a provider's summary) or a list (``also``)."""
    found = summary(Subject(pk, email))
    items = _positions(found) if isinstance(found, list) else found
    if not all(isinstance(item, (Count, First, Rows)) for item in items.values()):
        raise _PlainValue
    return _items_statement(items)


def _items_statement(summary: dict[str, Any]) -> tuple[str, list[Any], Any]:
    """``(columns joined, their parameters, (database, the keys of the items in column order))`` of a summary's
    items; plain values are left where they are."""
    keys = [key for key, item in summary.items() if isinstance(item, (Count, First, Rows))]
    columns: list[str] = []
    params: list[Any] = []
    database = "default"
    for key in keys:
        item = summary[key]
        database = item.rows.db
        sql, item_params = _column(item)
        columns.append(sql)
        params.extend(item_params)
    return ", ".join(columns), params, (database, tuple(keys))


def _column(item: SummaryItem) -> tuple[str, list[Any]]:
    """One item as a scalar subquery (Django-compiled SQL with its parameters apart: nothing of the user's is in
    the text)."""
    rows = item.rows
    if isinstance(item, Count):
        rows = rows.order_by().values("pk")
    elif isinstance(item, First):
        rows = rows[:1]
    elif item.limit is not None:
        rows = rows[: item.limit]
    try:
        sql, params = rows.query.get_compiler(using=item.rows.db).as_sql()
    except EmptyResultSet:  # .none(): nothing to read
        return ("0" if isinstance(item, Count) else "NULL::json" if isinstance(item, First) else "'[]'::json"), []
    if isinstance(item, Count):
        return f"(SELECT COUNT(*) FROM ({sql}) AS s)", list(params)  # noqa: S608
    if isinstance(item, First):
        return f"(SELECT row_to_json(s) FROM ({sql}) AS s)", list(params)  # noqa: S608
    return f"(SELECT COALESCE(json_agg(row_to_json(s)), '[]'::json) FROM ({sql}) AS s)", list(params)  # noqa: S608


def read_items(items: list[SummaryItem]) -> list[Any]:
    """The items' values (ints, dicts or None, lists of dicts), all read by one ``SELECT``."""
    if not items:
        return []
    sql, params, (database, _keys) = _items_statement(_positions(items))
    return _execute(database, [sql], params)


def _execute(database: str, columns: list[str], params: list[Any]) -> list[Any]:
    if not columns:
        return []
    # A prepared statement (mindomo.statements.rows): its text is the same for every user (only the parameters
    # differ), so PostgreSQL plans it once per connection instead of on every page (planning the subqueries costs
    # several times their execution).
    found = statements.rows("SELECT " + ", ".join(columns), params, using=database)
    return list(found[0])  # psycopg decodes the json columns


registry = PrivacyRegistry()
register = registry.register


def autodiscover() -> None:
    autodiscover_modules("privacy")
