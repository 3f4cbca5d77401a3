"""Search every column of every table for a value: the proof that a deleted thing is gone everywhere."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")

TEXT_TYPES = {"text", "character varying", "character", "json", "jsonb", "citext", "bytea", "inet"}


def tables_containing(needle: str, *, ignore_tables: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    """{table: [columns]} for every table of the database holding ``needle`` (case-insensitive)."""
    found: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position
            """
        )
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            if table in ignore_tables or data_type not in TEXT_TYPES:
                continue
            # bytea: binary content (a PDF in the outbox) is not UTF-8; 'escape' keeps printable bytes as they are
            expression = f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            cursor.execute(
                f'SELECT EXISTS (SELECT 1 FROM "{table}" WHERE {expression} ILIKE %s)',
                [f"%{needle}%"],
            )
            if cursor.fetchone()[0]:
                found.setdefault(table, []).append(column)
    return found


def assert_erased(needles: Iterable[str], erase: Callable[[], T], *, kept: frozenset[str] = frozenset()) -> T:
    """Each needle is somewhere in the database before ``erase()`` runs, and in no table after it (except the
    ``kept`` tables, where a legal duty keeps a record). Returns what ``erase()`` returned.

    Showing the data there first is what lets a deletion test fail: a needle that was never stored would be
    "gone" whatever the code does.
    """
    needles = list(needles)
    for needle in needles:
        assert tables_containing(needle), f"{needle!r} is in no table before the erasure: the test would prove nothing"
    result = erase()
    for needle in needles:
        left = tables_containing(needle)
        assert set(left) <= kept, f"{needle!r} is still in {left}"
    return result
