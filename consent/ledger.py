"""The consent ledger: append-only, hash-chained, pseudonymous.

Every consent event is one :class:`LedgerEntry`. Appends are serialised by a transaction-scoped
advisory lock so each row links to the one before it; a PostgreSQL trigger (migration 0003) refuses
UPDATE and DELETE. People appear only as pseudonyms (:class:`LedgerPseudonym`), a mapping kept
outside the ledger and deleted with the child, so after a deletion the chain is whole and anonymous.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import AgeRule, ConsentRecord, LedgerEntry, LedgerPseudonym, PendingSignup

GENESIS = "0" * 64
LOCK_KEY = 0x6C656467  # "ledg": pg_advisory_xact_lock key of the ledger's appends
SYSTEM = "system"


@dataclass
class Event:
    kind: str
    subject: str
    actor: str = SYSTEM
    method: str = ""
    rule: AgeRule | None = None
    rule_label: str = ""  # instead of ``rule``: its jurisdiction and version
    rule_version: int | None = None
    policy_version: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


FIELDS = ("seq", "at", "kind", "subject", "actor", "method", "rule", "rule_version", "policy_version", "detail")


def _hash(values: tuple[Any, ...], prev_hash: str) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the row's content (``FIELDS`` in order)."""
    content = dict(zip(FIELDS, values, strict=True))
    content["at"] = content["at"].astimezone(datetime.UTC).isoformat(timespec="microseconds")
    content["prev"] = prev_hash
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()


def entry_hash(entry: LedgerEntry) -> str:
    return _hash(tuple(getattr(entry, name) for name in FIELDS), entry.prev_hash)


def append(events: Sequence[Event], *, now: datetime.datetime | None = None) -> list[LedgerEntry]:
    """Append events in order, chained to the last row. Runs inside the caller's transaction."""
    if not events:
        return []
    now = now or timezone.now()
    if not connection.in_atomic_block:
        with transaction.atomic():
            return append(events, now=now)
    with connection.cursor() as cursor:
        # Appends take turns (until the transaction ends), so each row links to the one before it.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, previous = last if last else (0, GENESIS)
    rows = []
    for event in events:
        seq += 1
        row = LedgerEntry(
            seq=seq,
            at=now,
            kind=event.kind,
            subject=event.subject,
            actor=event.actor,
            method=event.method,
            rule=event.rule.jurisdiction if event.rule else event.rule_label,
            rule_version=event.rule.version if event.rule else event.rule_version,
            policy_version=event.policy_version,
            detail=event.detail,
            prev_hash=previous,
        )
        row.hash = entry_hash(row)
        previous = row.hash
        rows.append(row)
    return LedgerEntry.objects.bulk_create(rows)


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(*, chunk_size: int = 5000) -> ChainReport:
    """Walk the ledger in order; the first row whose link or content does not match is named."""
    previous = GENESIS
    checked = 0
    rows = LedgerEntry.objects.order_by("seq").values_list(*FIELDS, "prev_hash", "hash")
    for row in rows.iterator(chunk_size=chunk_size):
        *values, prev_hash, stored = row
        if prev_hash != previous:
            return ChainReport(checked, row[0], "its link does not match the row before it")
        if _hash(tuple(values), prev_hash) != stored:
            return ChainReport(checked, row[0], "its content does not match its hash")
        previous = stored
        checked += 1
    return ChainReport(checked)


# --- pseudonyms ------------------------------------------------------------------------------------------
def child_pseudonym(child_id: int) -> str:
    row = LedgerPseudonym.objects.filter(child_id=child_id, role=LedgerPseudonym.Role.CHILD).first()
    if row is None:
        row = LedgerPseudonym.objects.create(child_id=child_id, role=LedgerPseudonym.Role.CHILD)
    return row.pseudonym


def adopt_pending_pseudonym(*, pending: PendingSignup, child_id: int) -> str:
    """At approval the request's pseudonym becomes the account's (one subject from request to deletion)."""
    row, _created = LedgerPseudonym.objects.get_or_create(
        child_id=child_id, role=LedgerPseudonym.Role.CHILD, defaults={"pseudonym": pending.ledger_subject}
    )
    return row.pseudonym


def parent_pseudonym(*, child_id: int, email: str) -> str:
    """A parent's pseudonym for this child (per child, so it links no two children)."""
    email = email.strip().lower()
    row = LedgerPseudonym.objects.filter(child_id=child_id, role=LedgerPseudonym.Role.PARENT, email=email).first()
    if row is None:
        row = LedgerPseudonym.objects.create(child_id=child_id, role=LedgerPseudonym.Role.PARENT, email=email)
    return row.pseudonym


def record_event(
    *,
    kind: str,
    record: ConsentRecord,
    actor: str = SYSTEM,
    detail: dict[str, Any] | None = None,
    now: datetime.datetime | None = None,
) -> LedgerEntry:
    """One event about a consented child, with the record's method, rule and policy version."""
    rule = AgeRule.objects.filter(pk=record.rule_id).first() if record.rule_id else None
    (entry,) = append(
        [
            Event(
                kind=kind,
                subject=child_pseudonym(record.child_id),
                actor=actor,
                method=record.method,
                rule=rule,
                policy_version=record.policy_version or settings.CONSENT_POLICY_VERSION,
                detail=detail or {},
            )
        ],
        now=now,
    )
    return entry
