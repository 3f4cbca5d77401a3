"""The privacy registry: every app declares the personal data it holds and can export and erase it.

Erasing a person goes through one path only, the accounts pipeline (``accounts.services.account_erase_now`` or
a deletion request after its grace period), which runs each provider's ``erase`` as one recorded step.

The pattern of Moodle's privacy API. Each app has a ``privacy.py`` module that registers one
:class:`PrivacyProvider`; export, deletion, the parent portal's overview and the retention engine all
work through the registry, so a new kind of personal data is handled everywhere once it is declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.module_loading import autodiscover_modules

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


class PrivacyProvider:
    """Base class of an app's privacy provider.

    ``erase_order``: providers erase in increasing order; the accounts provider, which deletes the
    user row itself, goes last.
    """

    name: str = ""
    label: str | Promise = ""
    erase_order: int = 100

    def declarations(self) -> Iterable[DataCategory]:
        raise NotImplementedError

    def export(self, user: User) -> dict[str, Any]:
        """A JSON-serialisable document with everything this app holds about ``user``."""
        raise NotImplementedError

    def erase(self, user: User) -> None:
        """Delete (or irreversibly de-identify, where the law obliges us to keep a record) the data."""
        raise NotImplementedError

    def retention_rules(self) -> Iterable[RetentionRule]:
        return []


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


registry = PrivacyRegistry()
register = registry.register


def autodiscover() -> None:
    autodiscover_modules("privacy")
