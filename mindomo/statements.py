"""Reads the ORM compiles once per process, then only binds to new ids.

Building a queryset and compiling it to SQL costs Django more than PostgreSQL takes to run a small read: on the
busiest pages (the gradebook, the parent's page) most of a request's time went there. A read whose SQL text
depends only on *how many* ids it is given, never on their values, is compiled here once per process and
shape (the length of each list of ids) and language (a build may put translated text in its parameters); later
calls put their ids into the remembered parameters.

``bind(key, build, *args)``: ``build(*args)`` returns ``(sql, params, meta)`` (``meta``: anything the caller
needs back, compared as well). ``args`` are ids (ints), sequences of ids, or strings (an email address: bound
by position as given, never transformed). The first call of a shape builds twice with two sets of probes
(negative ids no row has; two unlike strings, see ``_PROBE_TEXT``) and keeps the result only when

- both builds give the same SQL text and ``meta``,
- every parameter is either a probe in both builds at the same argument position (a slot), or the
  same constant in both (a string, an integer or a boolean, a decimal, None: never a date or a time, which may
  be "now"),

so a build that uses its arguments in any other way (arithmetic, a string lower-cased, stripped or put inside
a pattern, a branch on their value that changes the parameters, an exception) is not kept: ``bind`` answers
None and the caller builds in full, as before. A caller that needs a string normalised normalises it before
the call and the build uses it as given. An empty string is a shape of its own (built with "" itself, so a
build's ``if email:`` is right for both). What no check can see is a branch on an argument's value that
changes the SQL text for some values only: a ``build`` must not have one (the reads using this module build
plain filters of their arguments; access checks that look at the person stay outside, before the call, or
are filters of the person's id or address in the statement itself).

``rows(sql, params)`` runs such a statement as a prepared statement (planned once per connection: for a short
read, PostgreSQL's planning costs several times its execution).
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

import psycopg
import psycopg.sql
from django.db import ProgrammingError, connections
from django.utils import translation

Build = Callable[..., tuple[str, list[Any], Any]]
Arg = int | str | Sequence[int]
Shape = tuple[int | str | None, ...]  # per argument: None (an id), the length of a list, "s" or "" (a string)

# Probe ids: primary keys are positive, so no row has these; two sets tell an id slot from a constant.
_PROBE_A = -(1 << 60)
_PROBE_B = -(1 << 61)
# Probe strings, unlike each other (length, case, text): each has surrounding white space, upper- and lower-case
# letters, an "ß" (which upper-casing and case-folding change), a decomposed "é" and a ligature (which Unicode
# normalisation changes), so a build that strips, changes the case of or normalises a string, or cuts it, or
# puts it inside a pattern, gives back neither probe and is not reused.
_PROBE_TEXT = (
    " \tProbe.A-Stra\u00dfe-e\u0301\ufb01@Example.ORG\n",
    "  QUUX_b\u00df\ufb01e\u0301.Two@probe-B.Invalid \t ",
)
_CONSTANT_TYPES = (str, int, Decimal, type(None))  # and their subclasses (bool, a model's choices)
_MAX_SHAPES = 512  # per process: a shape is a key, the lengths of its lists of ids and the language

_UNUSABLE = object()  # a shape whose build cannot be reused: it runs in full every time
_templates: dict[tuple[Hashable, tuple[Shape, str | None]], Any] = {}
_lock = threading.Lock()


def _shape(args: tuple[Arg, ...]) -> Shape:
    return tuple(
        None if isinstance(arg, int) else ("s" if arg else "") if isinstance(arg, str) else len(arg) for arg in args
    )


def _flatten(args: tuple[Arg, ...]) -> list[int | str]:
    flat: list[int | str] = []
    for arg in args:
        if isinstance(arg, (int, str)):
            flat.append(arg)
        else:
            flat.extend(arg)
    return flat


def _probe(shape: Shape, base: int) -> tuple[Arg, ...]:
    """Arguments of ``shape`` made of distinct probes: ids ``base``, ``base - 1``..., strings from
    ``_PROBE_TEXT`` (the first for ``_PROBE_A``, the second for ``_PROBE_B``) with the argument's position."""
    args: list[Arg] = []
    n = 0
    for length in shape:
        if length is None:
            args.append(base - n)
            n += 1
        elif isinstance(length, str):
            text = _PROBE_TEXT[0 if base == _PROBE_A else 1]
            args.append(f"{text}{n}{text}" if length else "")
            n += 1
        else:
            args.append([base - n - i for i in range(length)])
            n += length
    return tuple(args)


def _is_id(value: Any) -> bool:
    """An integer as an id may be given to the database (psycopg's ``Int8`` for a big integer field included);
    booleans and a model's integer choices are constants."""
    return isinstance(value, int) and not isinstance(value, (bool, Enum))


def _slot(value: Any, slots: dict[int | str, int]) -> int | None:
    """The position of a probe among the flattened arguments, None for any other value."""
    if _is_id(value) or type(value) is str:
        return slots.get(value)
    return None


def _template(build: Build, shape: Shape) -> Any:
    """``(sql, spec, meta)``, ``spec`` holding for each parameter a slot (its position in the flattened
    arguments and the type it is given as: an integer type, or ``str``, as a tuple) or a constant;
    ``_UNUSABLE`` when the build fails the checks."""
    probe_a, probe_b = _probe(shape, _PROBE_A), _probe(shape, _PROBE_B)
    try:
        sql_a, params_a, meta_a = build(*probe_a)
        sql_b, params_b, meta_b = build(*probe_b)
    except Exception:  # a build that cannot take probe ids (it reads more than ids) runs in full each time
        return _UNUSABLE
    if sql_a != sql_b or meta_a != meta_b or len(params_a) != len(params_b):
        return _UNUSABLE
    slots_a = {value: n for n, value in enumerate(_flatten(probe_a))}
    slots_b = {value: n for n, value in enumerate(_flatten(probe_b))}
    spec: list[Any] = []
    for a, b in zip(params_a, params_b, strict=True):
        slot_a, slot_b = _slot(a, slots_a), _slot(b, slots_b)
        if slot_a is not None or slot_b is not None:
            if slot_a != slot_b or type(a) is not type(b):
                return _UNUSABLE
            spec.append((slot_a, type(a)))
        elif isinstance(a, _CONSTANT_TYPES) and type(a) is type(b) and a == b:
            spec.append(a)
        else:
            return _UNUSABLE
    return sql_a, spec, meta_a


def bind(key: Hashable, build: Build, *args: Arg) -> tuple[str, list[Any], Any] | None:
    """What ``build(*args)`` returns, from the SQL compiled once for this ``key`` and shape of arguments; None
    when this shape's build cannot be reused (the caller then builds in full)."""
    shape = (_shape(args), translation.get_language())
    template = _templates.get((key, shape))
    if template is None:
        template = _template(build, shape[0])
        with _lock:
            if len(_templates) >= _MAX_SHAPES:
                _templates.clear()
            _templates[(key, shape)] = template
    if template is _UNUSABLE:
        return None
    sql, spec, meta = template
    flat = _flatten(args)
    params = [
        (flat[item[0]] if item[1] is int or item[1] is str else item[1](flat[item[0]])) if type(item) is tuple else item
        for item in spec
    ]
    return sql, params, meta


# The ids written into a statement's text: a bigint's (a larger number from a URL finds no row, as psycopg sends it)
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
# What a text of a statement holds besides its own SQL: Django's placeholders and its escaped percent signs
_PLACEHOLDERS = re.compile("(%s|%%|%)")
_inline_parts: dict[tuple[Hashable, tuple[Shape, str | None]], Any] = {}


def _parts(sql: str, spec: list[Any]) -> Any:
    """The statement's text cut where its ids go: text (the constants written in as SQL literals, as psycopg's
    client-side binding writes them) and, between, the position of an id among the flattened arguments;
    ``_UNUSABLE`` when a parameter cannot be written in (a string slot, a constant of another type) or the text
    holds a percent sign that is neither a placeholder nor an escaped one."""
    pieces = _PLACEHOLDERS.split(sql)
    parts: list[str | int] = []
    text: list[str] = []
    params = iter(spec)
    for n, piece in enumerate(pieces):
        if n % 2 == 0:
            text.append(piece)
        elif piece == "%%":
            text.append("%")
        elif piece == "%":
            return _UNUSABLE
        else:
            item = next(params, _UNUSABLE)
            if type(item) is tuple:
                if item[1] is str:
                    return _UNUSABLE
                parts.append("".join(text))
                parts.append(item[0])
                text = []
            else:
                literal = _literal(item)
                if literal is None:
                    return _UNUSABLE
                text.append(literal)
    if next(params, None) is not None:
        return _UNUSABLE
    parts.append("".join(text))
    return parts


def _literal(value: Any) -> str | None:
    """A constant parameter as an SQL literal (psycopg's own quoting); None for a type not written in here."""
    if isinstance(value, Enum):  # a model's choices: their value
        value = value.value
    if value is None or isinstance(value, (int, str)):  # bool, psycopg's Int4 and Int8 included
        return psycopg.sql.quote(value)
    return None


def inline(key: Hashable, build: Build, *args: int | Sequence[int]) -> str | None:
    """``bind``'s statement with its ids and constants written into the text, for a cursor given no parameters:
    what psycopg's client-side binding sends (the same bytes), without its work on every call (a statement of
    more than 50 parameters, the gradebook's grades, is parsed again for each call). None when the statement
    cannot be reused or written in (a string among the arguments or the constants, see ``_parts``)."""
    parts = _derived(_inline_parts, key, build, args, lambda parts: parts)
    if parts is _UNUSABLE:
        return None
    flat = _flatten(args)
    if not all(_BIGINT_MIN <= value <= _BIGINT_MAX for value in flat):  # type: ignore[operator]
        return None  # psycopg sends such a number as a numeric: compiled as before
    return "".join(str(int(flat[part])) if type(part) is int else part for part in parts)


def rows(sql: str, params: list[Any], *, using: str = "default") -> list[tuple[Any, ...]]:
    """The rows of a statement whose text is the same for every call (``bind``'s), as a prepared statement:
    PostgreSQL plans it once per connection instead of on every call. The cursor goes through Django's wrappers
    (logged and counted like any query). Django turns psycopg's preparing off for the whole connection
    (``prepare_threshold`` None, for poolers); it is on here only, for this statement, and never automatic (a
    threshold no statement reaches)."""
    connection = connections[using]
    connection.ensure_connection()
    raw_connection = connection.connection
    raw: Any = _PreparedCursor(raw_connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    threshold = raw_connection.prepare_threshold
    raw_connection.prepare_threshold = 2**31 - 1
    try:
        with cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())
    finally:
        raw_connection.prepare_threshold = threshold


class _PreparedCursor(psycopg.Cursor[Any]):
    """psycopg's server-side binding cursor, every statement prepared (Django's own cursors bind client-side
    and prepare nothing: DATABASES OPTIONS)."""

    def execute(
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None
    ) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


# Per connection (psycopg's, so a connection the pool replaced starts empty): the statements it has prepared
# (``together``), and a generation in their names, raised after an error (PREPARE is not undone by a rollback).
_prepared: weakref.WeakKeyDictionary[Any, tuple[int, set[str]]] = weakref.WeakKeyDictionary()
_prepared_forms: dict[tuple[Hashable, tuple[Shape, str | None]], Any] = {}


def _prepared_form(key: Hashable, build: Build, args: tuple[Arg, ...]) -> Any:
    """``(name, text, slots)``: the statement with ``$n`` where each id goes and its constants written in, for
    ``PREPARE``; ``_UNUSABLE`` as for ``inline``."""
    return _derived(_prepared_forms, key, build, args, _prepared_text)


def _prepared_text(parts: list[Any]) -> Any:
    slots = [part for part in parts if type(part) is int]
    numbers = {slot: n for n, slot in enumerate(dict.fromkeys(slots), start=1)}
    text = "".join(f"${numbers[part]}" if type(part) is int else part for part in parts)
    return (prepared_base(text), text, list(numbers))


def _derived(
    table: dict[tuple[Hashable, Any], Any], key: Hashable, build: Build, args: tuple[Any, ...], derive: Any
) -> Any:
    """What ``derive`` makes of ``bind``'s statement for these arguments' shape and the language, split into its
    text and the places of its ids (``_parts``), remembered in ``table``; ``_UNUSABLE`` when the statement cannot
    be reused or written in (remembered too), or was forgotten meanwhile (another thread filled the table: not
    remembered)."""
    shape = (_shape(args), translation.get_language())
    value = table.get((key, shape))
    if value is None:
        if bind(key, build, *args) is None:
            return _UNUSABLE
        template = _templates.get((key, shape))
        if template is None:
            return _UNUSABLE
        parts = _parts(template[0], template[1])
        value = _UNUSABLE if parts is _UNUSABLE else derive(parts)
        with _lock:
            if len(table) >= _MAX_SHAPES:
                table.clear()
            table[(key, shape)] = value
    return value


def prepared_base(text: str) -> str:
    """The name a statement prepared by this project has on a connection, but for its generation (``_<n>``,
    ``prepared_held``): a digest of the text ``PREPARE`` gets (the same text is the same statement)."""
    return "mindomo_" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def prepared_held(raw_connection: Any) -> tuple[int, set[str]]:
    """The generation of the names on psycopg's ``raw_connection`` and the names it holds (prepared by ``together``
    or ``mindomo.prepared``): one record per connection for both."""
    return _prepared.get(raw_connection) or (0, set())


def prepared_settled(raw_connection: Any, generation: int, new: Sequence[str], *, ok: bool) -> None:
    """After a query that prepared ``new`` ran (``ok``) or failed: on success the connection holds them too; on a
    failure what it holds is not known (part of the query ran; PREPARE is not undone by a rollback; the failure may
    be a statement found missing): the next query prepares under new names (the generation raised)."""
    held_generation, done = prepared_held(raw_connection)
    if held_generation != generation:
        return  # raised meanwhile
    if ok:
        done.update(new)
        _prepared[raw_connection] = (generation, done)
        _watch(raw_connection)
    else:
        _prepared[raw_connection] = (generation + 1, set())


def _watch(raw_connection: Any) -> None:
    """Forget what ``raw_connection`` holds when psycopg deallocates every statement of its session.

    psycopg sends ``DEALLOCATE ALL`` when it discards its own prepared statements (``rows``): after a rollback,
    a rollback to a savepoint, or a ``DROP`` or ``ALTER``, wherever it had prepared some. The project's statements
    go with them. Its prepare manager's ``clear`` is where psycopg decides that, so the record of this connection
    is emptied there: the next query prepares its statements again at once, instead of failing on a missing
    statement first (inside a transaction, the erasure's, that failure would undo the whole transaction).
    Installed once per connection, on psycopg's manager (``_prepared``, psycopg 3.1 to 3.3); without it the
    record still learns of the loss from the failure, as before.
    """
    manager = getattr(raw_connection, "_prepared", None)
    clear = getattr(manager, "clear", None)
    if clear is None or getattr(clear, "mindomo_watch", False):
        return
    owner = weakref.ref(raw_connection)

    def cleared() -> bool:
        deallocating = bool(clear())
        held = owner()
        if deallocating and held is not None:
            _prepared.pop(held, None)  # everything the session held is gone: any name can be prepared again
        return deallocating

    cleared.mindomo_watch = True  # type: ignore[attr-defined]
    manager.clear = cleared  # type: ignore[union-attr]


def together(calls: Sequence[tuple[Hashable, Build, tuple[Arg, ...]]], *, using: str = "default") -> list[list[Any]]:
    """The rows of each ``bind(key, build, *args)`` statement, read in one round trip: each prepared once per
    connection (``PREPARE``, sent with the first call) and run by ``EXECUTE`` with its ids, all in one query.
    PostgreSQL plans a prepared statement for its values the first five times, then, where a plan for any value
    costs no more, keeps one plan (its ``plan_cache_mode``): a short read is not planned again on every call.

    Only outside a transaction: a statement the session lost without psycopg saying so (a pooler's reset:
    psycopg's own ``DEALLOCATE ALL`` is seen, ``_watch``) is found missing, then prepared again under a new name
    and the query sent once more, which an aborted transaction would not allow. Inside one (``atomic``), and for a
    statement that cannot be written so (``inline``), the statements are sent as compiled, with their values, in
    the same one query."""
    connection = connections[using]
    if connection.in_atomic_block:
        return _compiled_together(connection, calls)
    connection.ensure_connection()
    raw_connection = connection.connection
    try:
        return _prepared_together(connection, raw_connection, calls)
    except ProgrammingError as error:
        if not isinstance(error.__cause__, psycopg.errors.InvalidSqlStatementName):
            raise
        return _prepared_together(connection, raw_connection, calls)  # under new names: prepared again


def _compiled_together(connection: Any, calls: Sequence[tuple[Hashable, Build, tuple[Arg, ...]]]) -> list[list[Any]]:
    reads = [bind(key, build, *args) or build(*args) for key, build, args in calls]
    results: list[list[Any]] = []
    with connection.cursor() as cursor:
        cursor.execute(
            ";\n".join(sql for sql, _params, _meta in reads), [p for _s, params, _m in reads for p in params]
        )
        for n in range(len(reads)):
            if n:
                cursor.nextset()
            results.append(cursor.fetchall())
    return results


def _prepared_together(
    connection: Any, raw_connection: Any, calls: Sequence[tuple[Hashable, Build, tuple[Arg, ...]]]
) -> list[list[Any]]:
    generation, done = prepared_held(raw_connection)
    prepare: list[str] = []
    texts: list[str] = []
    params: list[Any] = []
    new: list[str] = []
    compiled: list[int] = []
    for key, build, args in calls:
        form = _prepared_form(key, build, args)
        if form is _UNUSABLE or not all(_BIGINT_MIN <= v <= _BIGINT_MAX for v in _flatten(args)):  # type: ignore[operator]
            sql, statement_params, _meta = bind(key, build, *args) or build(*args)
            compiled.append(len(texts))
            texts.append(sql)
            params.extend(statement_params)
            continue
        base, text, slots = form
        name = f"{base}_{generation}"
        if name not in done and name not in new:
            prepare.append(f"PREPARE {name} AS {text}")
            new.append(name)
        flat = _flatten(args)
        texts.append(
            f"EXECUTE {name}({', '.join(str(int(flat[slot])) for slot in slots)})" if slots else f"EXECUTE {name}"
        )
    if compiled:  # a statement sent with its values: psycopg reads the whole text for placeholders
        prepare = [text.replace("%", "%%") for text in prepare]
        texts = [text if n in compiled else text.replace("%", "%%") for n, text in enumerate(texts)]
    query = ";\n".join([*prepare, *texts])
    results: list[list[Any]] = []
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, params if compiled else None)
            for _n in prepare:
                cursor.nextset()
            for n in range(len(texts)):
                if n:
                    cursor.nextset()
                results.append(cursor.fetchall())
    except Exception:
        prepared_settled(raw_connection, generation, new, ok=False)  # what is prepared is not known: new names
        raise
    prepared_settled(raw_connection, generation, new, ok=True)
    return results


def forget() -> None:
    """Drop every remembered statement (tests)."""
    with _lock:
        _templates.clear()
        _inline_parts.clear()
        _prepared_forms.clear()
