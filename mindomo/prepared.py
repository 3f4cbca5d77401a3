"""Several statements in one string (one round trip), each run as a prepared statement of the session.

An erasure sends some seventy statements at once, most of which find nothing for the person: PostgreSQL then
spends most of the string's time parsing and planning them (3.3 ms of planning against 0.8 ms of execution for
a person with no rows). psycopg's own prepared statements (``mindomo.statements.rows``) go one statement a
message, and its pipeline mode costs more on the client per statement than the planning it saves. This module
keeps the one string: a statement whose text is the same for every call (the values only in its parameters) is
sent as ``EXECUTE name(values)``, preceded, the first time on a connection, by ``PREPARE name AS <its text>``
in the same string. PostgreSQL then plans it as its plan cache decides (``plan_cache_mode``, ``auto``: a custom
plan for the first five runs, then the generic plan unless that costs more), and parses only the ``EXECUTE``.

One mechanism with ``mindomo.statements.together``: the same record per psycopg connection of the names it holds
and of their generation (``statements.prepared_held``, ``prepared_settled``), the same names (``prepared_base``
of the text prepared, then ``_<generation>``), so a text prepared by either is prepared once per connection. A
string that failed (part of it ran; a ``PREPARE`` is not undone by a rollback; the failure may be a statement
the session no longer holds: a pooler's reset) raises the generation: the next string prepares under new names,
whatever the session holds. psycopg's own ``DEALLOCATE ALL`` (after a rollback where it had prepared statements
of its own) empties the record as it is sent (``statements._watch``), so it never makes a string fail.

What ``together`` does that this module does not, and why: ``together`` writes its ids into the ``EXECUTE`` and
answers rows of reads; it sends its query again when a statement was found missing, so it runs only outside a
transaction. The erasure's statements have parameters of every type (dates, texts, arrays: psycopg binds them
as for any statement) and must run inside the erasure's transaction, so a statement found missing fails that
transaction: the caller's fallback (``accounts.services``: the opening once more, the erasure provider by
provider) runs then, under the new generation's names. So :func:`compose` builds the string and :func:`settled`
records the outcome, and the caller sends it within its own transaction.

Bounds: at most ``MAX_PER_CONNECTION`` names held per connection and generations below ``MAX_GENERATION``
(each failure may leave the last generation's statements in the session); beyond either, a statement is sent
as its text, as before. Only for statements whose parameter types PostgreSQL can infer from where they stand (a
column compared with or set to the value, the functions Django's lookups use); ``PREPARE`` fails otherwise, with
the statement's transaction.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from django.db import connections

from mindomo import statements

MAX_PER_CONNECTION = 256
MAX_GENERATION = 16
_MAX_TEXTS = 4096

_PLACEHOLDER = re.compile(r"%%|%s")
_EXECUTE = re.compile(r"EXECUTE (mindomo_[0-9a-f]{16})_\d+(?:\((.*)\))?\Z", re.DOTALL)
_bases: dict[str, tuple[str, str]] = {}  # DB-API text -> (base name, text for PREPARE)
_texts: dict[str, str] = {}  # base name -> DB-API text
_lock = threading.Lock()


def numbered(sql: str) -> str:
    """DB-API text (``%s`` placeholders) with PostgreSQL's ``$1``, ``$2``... (``%%`` kept: the string is still
    formatted by the cursor)."""
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if match.group(0) == "%%":
            return "%%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(replace, sql)


def _base(sql: str) -> tuple[str, str]:
    found = _bases.get(sql)
    if found is None:
        text = numbered(sql)
        # the digest of the text PREPARE gets (``%%`` as the server sees it: ``%``), as ``together`` names its own
        found = (statements.prepared_base(text.replace("%%", "%")), text)
        with _lock:
            if len(_bases) < _MAX_TEXTS:
                _bases[sql] = found
                _texts[found[0]] = sql
    return found


@dataclass
class Composed:
    """One string: ``sql`` and ``params`` for ``cursor.execute``; ``results[n]``: the position among the string's
    results of the n-th statement given (a ``PREPARE`` before it has one of its own)."""

    sql: str
    params: list[Any]
    results: list[int]
    connection: Any
    generation: int = 0
    preparing: list[str] = field(default_factory=list)
    executing: bool = False  # an EXECUTE in it


def compose(statements_: Sequence[tuple[str, Sequence[Any], bool]], *, using: str = "default") -> Composed:
    """The string running ``statements_`` (``(sql, params, prepare)``) in order: each with ``prepare`` as
    ``EXECUTE`` of a prepared statement (prepared in the same string when the session does not hold it yet), the
    others as their text. Call :func:`settled` once it ran or failed."""
    database = connections[using]
    database.ensure_connection()
    raw = database.connection
    usable = database.vendor == "postgresql" and any(prepare for _sql, _params, prepare in statements_)
    generation, held = statements.prepared_held(raw) if usable else (0, set())
    usable = usable and generation < MAX_GENERATION
    pieces: list[str] = []
    params: list[Any] = []
    results: list[int] = []
    preparing: list[str] = []
    executing = False
    for sql, values, prepare in statements_:
        key = text = ""
        if usable and prepare:
            base, text = _base(sql)
            key = f"{base}_{generation}"
        if key and key not in held and key not in preparing and len(held) + len(preparing) < MAX_PER_CONNECTION:
            pieces.append(f"PREPARE {key} AS {text}")
            preparing.append(key)
        if key and (key in held or key in preparing):
            executing = True
            pieces.append(f"EXECUTE {key}({', '.join(['%s'] * len(values))})" if values else f"EXECUTE {key}")
        else:
            pieces.append(sql)
        results.append(len(pieces) - 1)
        params.extend(values)
    return Composed(";\n".join(pieces), params, results, raw, generation, preparing, executing)


def settled(composed: Composed, *, ok: bool) -> None:
    """After the string ran (``ok``) or failed: what the session holds now (``statements.prepared_settled``)."""
    if composed.executing:
        statements.prepared_settled(composed.connection, composed.generation, composed.preparing, ok=ok)


def lost(error: BaseException) -> bool:
    """``error`` says the session no longer holds a statement prepared on it (a pooler's reset, or a ``DEALLOCATE``
    not sent by psycopg): the string failed, the generation was raised, sending it again prepares anew."""
    cause = error.__cause__ or error
    return isinstance(cause, psycopg.errors.InvalidSqlStatementName)


def resolved(sql: str) -> str:
    """A string as sent (``cursor.execute``'s text with its values, as Django logs it) written as its statements'
    texts: each ``PREPARE`` left out, each ``EXECUTE name(values)`` replaced by the text it was prepared with and
    its values. For tests and logs reading what an erasure ran."""
    out: list[str] = []
    for piece in sql.split(";\n"):
        if piece.startswith("PREPARE mindomo_"):
            continue
        match = _EXECUTE.match(piece)
        original = _texts.get(match.group(1)) if match else None
        if match is None or original is None:
            out.append(piece)
            continue
        out.append(_filled(original, _arguments(match.group(2) or "")))
    return ";\n".join(out)


def _filled(sql: str, values: list[str]) -> str:
    given = iter(values)
    return _PLACEHOLDER.sub(lambda m: "%" if m.group(0) == "%%" else next(given), sql)


def _arguments(text: str) -> list[str]:
    """``EXECUTE``'s values as written (literals, casts, ``ARRAY[...]``), split at the commas between them."""
    values: list[str] = []
    depth, start, quoted, n = 0, 0, False, 0
    while n < len(text):
        char = text[n]
        if quoted:
            if char == "'":
                if text[n + 1 : n + 2] == "'":
                    n += 1
                else:
                    quoted = False
        elif char == "'":
            quoted = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:n].strip())
            start = n + 1
        n += 1
    if text.strip():
        values.append(text[start:].strip())
    return values
