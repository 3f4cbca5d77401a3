"""Case-insensitive equality that PostgreSQL's indexes can serve.

Django writes ``field__iexact=value`` as ``UPPER(field::text) = UPPER(value)``, which no index of ours
matches: our case-insensitive indexes and unique constraints are on ``LOWER(field)`` (``Lower()`` in the
models), so every such lookup (a username or email at sign-in, a parent's address in the portal, a child's
chosen login) was a sequential scan of the table. Registered on ``CharField`` and ``TextField`` (and so on
``EmailField``), ``LowerIExact`` writes ``LOWER(field::text) = LOWER(value)`` instead, for every query of
the project and of the libraries it runs (allauth's username lookup, Django's ``get_by_natural_key``).
A field looked up this way has a ``Lower()`` index; ``tests/accounts/test_lookup_plans.py`` runs each
lookup's SQL through ``EXPLAIN`` to prove it.
"""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, TextField
from django.db.models.lookups import BuiltinLookup, IExact


class LowerIExact(IExact):
    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        # Lookup.process_lhs: the column without BuiltinLookup's UPPER(...::text) wrapping.
        lhs_sql, lhs_params = super(BuiltinLookup, self).process_lhs(compiler, connection)
        rhs_sql, rhs_params = self.process_rhs(compiler, connection)
        return f"LOWER({lhs_sql}::text) = LOWER({rhs_sql})", [*lhs_params, *rhs_params]


def register() -> None:
    CharField.register_lookup(LowerIExact)
    TextField.register_lookup(LowerIExact)
