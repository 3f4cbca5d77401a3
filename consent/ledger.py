"""The consent ledger: append-only, hash-chained, pseudonymous, partitioned into chains.

Every consent event is one :class:`LedgerEntry`. The ledger is ``CONSENT_LEDGER_CHAINS`` independent hash
chains: a row goes to the chain of its subject (a stable hash of the pseudonym, :func:`chain_of`), so one
child's events form one chain. Appends to a chain take turns by a transaction-scoped advisory lock on that
chain only (appends for other children run at the same time); each row links to the previous row of its
chain; ``seq`` (a database sequence taken under the lock) orders the whole ledger. A PostgreSQL trigger refuses
UPDATE and DELETE. Each chain verifies on its own (:func:`verify_chain`), and a beat task signs a checkpoint
of every chain's head (:func:`checkpoint_create`), which also proves that no chain lost its last rows.
People appear only as pseudonyms (:class:`LedgerPseudonym`), a mapping kept outside the ledger and deleted
with the child, so after a deletion the chains are whole and anonymous.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import connection, transaction
from django.db.models import IntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from . import signing
from .models import AgeRule, ConsentRecord, LedgerCheckpoint, LedgerEntry, LedgerPseudonym, PendingSignup

GENESIS = "0" * 64
LOCK_KEY = 0x6C656467  # "ledg": pg_advisory_xact_lock(LOCK_KEY, chain) serialises one chain's appends
SEQUENCE = "consent_ledger_seq"  # the whole ledger's order (migration 0014)
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
    members: bytes | None = None  # a compact batch's packed subjects (batch_event), outside the hashed content


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


def chain_of(subject: str) -> int:
    """The chain of a subject: a stable hash of the pseudonym (SHA-256's first 4 bytes) modulo the number of
    chains. Changing ``CONSENT_LEDGER_CHAINS`` later only sends new rows elsewhere: each row keeps its chain."""
    return int.from_bytes(hashlib.sha256(subject.encode()).digest()[:4], "big") % settings.CONSENT_LEDGER_CHAINS


def _event_chain(event: Event) -> int:
    # a batch entry (no subject) goes to the chain of its Merkle root
    return chain_of(event.subject or str(event.detail.get("merkle_root", "")))


def append(events: Sequence[Event], *, now: datetime.datetime | None = None) -> list[LedgerEntry]:
    """Append events in order, each to its subject's chain, linked to that chain's last row. Runs inside the
    caller's transaction; locks only the chains it writes to (in increasing order, so two appends never
    deadlock). The rows go in with one INSERT statement whatever their number.
    """
    if not events:
        return []
    now = now or timezone.now()
    if not connection.in_atomic_block:
        with transaction.atomic():
            return append(events, now=now)
    chains = [_event_chain(event) for event in events]
    wanted = sorted(set(chains))
    heads = dict.fromkeys(wanted, GENESIS)
    table = connection.ops.quote_name(LedgerEntry._meta.db_table)
    with connection.cursor() as cursor:
        # One round trip: this append's chains are locked until the transaction ends (each row links to the one
        # before), then one statement, whose snapshot is taken once the locks are held, reads the numbers
        # (taken under the locks, so that within a chain they grow with the links) and each chain's head.
        locks = "".join("SELECT pg_advisory_xact_lock(%s, %s); " for _chain in wanted)
        cursor.execute(
            f"{locks}SELECT ARRAY(SELECT nextval('{SEQUENCE}') FROM generate_series(1, %s)), "  # noqa: S608
            f"ARRAY(SELECT DISTINCT ON (chain) chain::text || ':' || hash FROM {table} "
            "WHERE chain = ANY(%s) ORDER BY chain, seq DESC)",
            [*(value for chain in wanted for value in (LOCK_KEY, chain)), len(events), wanted],
        )
        for _chain in wanted:
            cursor.nextset()
        row = cursor.fetchone()
    assert row is not None
    numbers = sorted(row[0])
    for head in row[1]:
        chain, _colon, value = head.partition(":")
        heads[int(chain)] = value
    rows = []
    for event, chain, seq in zip(events, chains, numbers, strict=True):
        row = LedgerEntry(
            seq=seq,
            chain=chain,
            at=now,
            kind=event.kind,
            subject=event.subject,
            actor=event.actor,
            method=event.method,
            rule=event.rule.jurisdiction if event.rule else event.rule_label,
            rule_version=event.rule.version if event.rule else event.rule_version,
            policy_version=event.policy_version,
            detail=event.detail,
            members=event.members,
            prev_hash=heads[chain],
        )
        row.hash = entry_hash(row)
        heads[chain] = row.hash
        rows.append(row)
    _insert(rows)
    return rows


_COLUMNS = (*FIELDS, "chain", "prev_hash", "hash")
_TYPES = (
    "bigint",
    "timestamptz",
    "text",
    "text",
    "text",
    "text",
    "text",
    "integer",
    "text",
    "jsonb",
    "smallint",
    "text",
    "text",
)


def _column(name: str) -> str:
    return str(LedgerEntry._meta.get_field(name).column)  # type: ignore[union-attr]


def _insert(rows: list[LedgerEntry]) -> None:
    """One ``INSERT ... SELECT FROM jsonb_to_recordset(%s) RETURNING`` for all the rows, their ids set.

    The rows travel as one JSON document (one parameter, escaped once), whatever their number and the
    size of their detail (a batch entry names 10,000 subjects); a compact batch's packed subjects as a
    ``bytea`` parameter each, never through JSON.
    """
    q = connection.ops.quote_name
    table = q(LedgerEntry._meta.db_table)
    columns = [_column(name) for name in _COLUMNS]
    listed = ", ".join(q(column) for column in columns)
    typed = ", ".join(f"{q(column)} {kind}" for column, kind in zip(columns, _TYPES, strict=True))
    members = [row.members for row in rows if row.members is not None]
    slots = iter(range(1, len(members) + 1))
    document = json.dumps(
        [
            {
                **{
                    column: (value.isoformat() if isinstance(value, datetime.datetime) else value)
                    for column, value in (
                        (column, getattr(row, name)) for column, name in zip(columns, _COLUMNS, strict=True)
                    )
                },
                "members_slot": None if row.members is None else next(slots),
            }
            for row in rows
        ],
        separators=(",", ":"),
    )
    # %b: the packed subjects travel as binary parameters, 16 bytes each (as text, a 160 KB batch became 320 KB of
    # hex escapes PostgreSQL's lexer read char by char: 2.4 ms against 0.4 ms measured alone)
    packed = f"(ARRAY[{', '.join(['%b::bytea'] * len(members))}]::bytea[])[members_slot]" if members else "NULL"
    sql = (
        f"INSERT INTO {table} ({listed}, {q(_column('members'))}) SELECT {listed}, {packed} "  # noqa: S608
        f"FROM jsonb_to_recordset(%s::jsonb) AS r({typed}, members_slot integer) "
        f"ORDER BY {q('seq')} RETURNING id, {q('seq')}"
    )
    with _server_bound() as cursor:
        cursor.execute(sql, [*(bytes(value) for value in members), document])
        ids = dict((seq, pk) for pk, seq in cursor.fetchall())
    for row in rows:
        row.pk = ids[row.seq]
        row._state.adding = False


def _server_bound() -> Any:
    """A cursor that binds its parameters server-side (the product's cursors bind on the client: Django's
    default), so a ``%b`` parameter travels in binary; wrapped as Django wraps its own (logged, in the
    transaction, on the same connection)."""
    connection.ensure_connection()
    return connection._prepare_cursor(psycopg.Cursor(connection.connection))  # type: ignore[attr-defined]


# --- batch entries: one row for many subjects --------------------------------------------------------------
def batch_event(*, kind: str, subjects: Sequence[str], compact: bool = False, **fields: Any) -> Event:
    """One event about many subjects (e.g. every request a school registered at once).

    The entry's ``detail`` holds the count and the Merkle root of the sorted subjects (:func:`merkle_root`),
    so a single subject's event is proven from the batch entry with :func:`subject_proof` and checked with
    :func:`proof_verify`, without the other subjects. The subjects themselves are in ``detail.subjects``
    (hashed with the row; a JSON list the subjects index reads for reminders and a school's batches), or, when
    ``compact``, packed in the row's ``members`` (:func:`packed_batch_event`).
    """
    if compact:
        return packed_batch_event(kind=kind, joined="\n".join(sorted(subjects)), **fields)
    ordered = sorted(subjects)
    if any(map(operator.eq, ordered, ordered[1:])):  # repeats sit side by side: found without hashing 10,000
        ordered = list(dict.fromkeys(ordered))
    detail = {"count": len(ordered), "merkle_root": merkle_root(ordered), "subjects": ordered}
    return Event(kind=kind, subject="", detail=detail, **fields)


PACKED = 16  # bytes per subject in a compact batch entry's ``members``: a pseudonym is 32 hex digits
_WIDTH = 2 * PACKED + 1  # a pseudonym and its newline in a joined batch


def packed_batch_event(*, kind: str, joined: str, **fields: Any) -> Event:
    """One event about many pseudonyms, given newline-joined in any order (as a batch's ``DELETE`` returned
    them: the expiry's), kept compact: packed in the row's ``members`` in that order, 16 bytes each, outside the
    hashed content, with ``detail.packed`` = 16; the hashed ``detail`` holds their count and the Merkle root of
    that same order (which commits to every one of them; :func:`verify_chain` checks that they still hash to it).

    Built from the joined text as it came, never split into 10,000 strings: the packing is one ``bytes.fromhex``
    and each Merkle leaf hashes a slice of the text (64 pseudonyms and their newlines, as :func:`_leaf` joins
    them). Subjects that are not all pseudonyms (32 lowercase hex digits) go to ``detail.subjects`` instead,
    sorted (:func:`batch_event`).
    """
    packed = _pack(joined)
    if packed is None:
        return batch_event(kind=kind, subjects=joined.split("\n") if joined else [], **fields)
    text = joined.encode()
    span = LEAF_SUBJECTS * _WIDTH
    leaves = [hashlib.sha256(b"\x00" + text[i : i + span - 1]).digest() for i in range(0, len(text), span)]
    root = _tree(leaves)[-1][0].hex() if leaves else GENESIS
    detail = {"count": len(packed) // PACKED, "merkle_root": root, "packed": PACKED}
    return Event(kind=kind, subject="", detail=detail, members=packed, **fields)


def _pack(joined: str) -> bytes | None:
    """Newline-joined pseudonyms as bytes, 16 each, or None when one of them is not 32 lowercase hex digits."""
    count = (len(joined) + 1) // _WIDTH
    if len(joined) != count * _WIDTH - 1 or joined[2 * PACKED :: _WIDTH] != "\n" * (count - 1):
        return None
    try:
        packed = bytes.fromhex(joined)
    except ValueError:
        return None
    # fromhex skips whitespace (the newlines; any inside a pseudonym leaves fewer bytes) and reads capitals too
    if len(packed) != PACKED * count or any(capital in joined for capital in "ABCDEF"):
        return None
    return packed


def batch_subjects(entry: LedgerEntry) -> list[str]:
    """The subjects of a batch entry in the order its Merkle tree takes them, wherever it keeps them
    (``detail.subjects``, sorted, or ``members``: sorted in the entries written before ``packed_batch_event``,
    else as the batch's ``DELETE`` returned them)."""
    detail = entry.detail if isinstance(entry.detail, dict) else {}
    if "subjects" in detail:
        return list(detail["subjects"])
    if entry.members is None:
        return []
    text = bytes(entry.members).hex()
    width = 2 * int(detail.get("packed", PACKED))
    return [text[i : i + width] for i in range(0, len(text), width)]


def is_batch(entry: LedgerEntry) -> bool:
    return not entry.subject and isinstance(entry.detail, dict) and "merkle_root" in entry.detail


LEAF_SUBJECTS = 64  # subjects per leaf of the Merkle tree


def _leaf(chunk: Sequence[str]) -> bytes:
    return hashlib.sha256(b"\x00" + "\n".join(chunk).encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _chunks(subjects: Sequence[str]) -> list[Sequence[str]]:
    return [subjects[i : i + LEAF_SUBJECTS] for i in range(0, len(subjects), LEAF_SUBJECTS)]


def _levels(subjects: Sequence[str]) -> list[list[bytes]]:
    return _tree([_leaf(chunk) for chunk in _chunks(subjects)])


def _tree(level: list[bytes]) -> list[list[bytes]]:
    """Every level of the Merkle tree from its leaves up to the root."""
    levels = [level]
    while len(level) > 1:
        # pairs hashed together; an odd last node goes up unchanged
        level = [_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def merkle_root(subjects: Sequence[str]) -> str:
    """The root of the Merkle tree over the subjects in the order given (a batch entry's :func:`batch_subjects`),
    taken ``LEAF_SUBJECTS`` at a time: leaf = SHA-256(0x00 || the leaf's subjects joined by newlines), node =
    SHA-256(0x01 || left || right), an odd last node promoted unchanged (RFC 6962's domain separation). A batch
    of 10,000 costs 313 hashes."""
    if not subjects:
        return GENESIS
    return _levels(subjects)[-1][0].hex()


@dataclass(frozen=True)
class SubjectProof:
    """That ``subject`` is one of the subjects of the batch entry ``seq`` (whose chained hash is
    ``entry_hash``): the subjects of its leaf, then the sibling hashes from that leaf up to ``root``, each
    with the side it sits on. About 1 KB for a batch of 10,000 (the leaf's 64 pseudonyms and 8 hashes)."""

    subject: str
    seq: int
    entry_hash: str
    root: str
    leaf: tuple[str, ...]
    path: tuple[tuple[str, str], ...]  # ("L" | "R", sibling hash hex), leaf to root

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "seq": self.seq,
            "entry_hash": self.entry_hash,
            "root": self.root,
            "leaf": list(self.leaf),
            "path": [list(step) for step in self.path],
        }


def subject_proof(subject: str, entry: LedgerEntry) -> SubjectProof:
    """The proof that ``subject`` is in the batch ``entry``; ValueError when it is not."""
    if not is_batch(entry):
        raise ValueError(f"ledger row #{entry.seq} is not a batch entry")
    subjects = batch_subjects(entry)
    if subject not in subjects:
        raise ValueError(f"{subject} is not a subject of ledger row #{entry.seq}")
    index = subjects.index(subject) // LEAF_SUBJECTS
    leaf = tuple(_chunks(subjects)[index])
    path = []
    for level in _levels(subjects)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(("L" if sibling < index else "R", level[sibling].hex()))
        index //= 2
    return SubjectProof(subject, entry.seq, entry.hash, entry.detail["merkle_root"], leaf, tuple(path))


def proof_verify(proof: SubjectProof, entry: LedgerEntry) -> bool:
    """True when the proof leads from the subject's leaf to the root recorded in ``entry``, and ``entry`` is
    the untampered row the proof names (its content matches its chained hash; ``verify_chain`` proves the
    chain around it)."""
    if entry.seq != proof.seq or entry.hash != proof.entry_hash or entry_hash(entry) != entry.hash:
        return False
    if not is_batch(entry) or entry.detail.get("merkle_root") != proof.root or proof.subject not in proof.leaf:
        return False
    node = _leaf(proof.leaf)
    for side, sibling_hex in proof.path:
        try:
            sibling = bytes.fromhex(sibling_hex)
        except ValueError:
            return False
        node = _node(sibling, node) if side == "L" else _node(node, sibling)
    return node.hex() == proof.root


# batch entries in the subjects index (migrations 0010 and 0017): a reminder, a school's consent for many
# children and the parents' addresses it gave with them (a OneRoster import), all in a child's history
INDEXED_BATCH_KINDS = ("reminded", "granted", "guardian_added")


def batch_entry_for(subject: str, *, kind: str) -> LedgerEntry | None:
    """The batch entry of ``kind`` naming ``subject``. Reminders and a school's consent (and the parents it
    gave) are found through their index; expiry batches (looked up only to prove one expiry) by reading the
    batch entries after the subject's first row: the compact ones by the subject's 16 bytes in ``members``
    (at a multiple of 16, checked here), the older ones in ``detail.subjects``."""
    entries = LedgerEntry.objects.filter(subject="", kind=kind)
    if kind in INDEXED_BATCH_KINDS:
        return entries.filter(detail__subjects__contains=[subject]).order_by("seq").first()
    first = LedgerEntry.objects.filter(subject=subject).order_by("seq").values_list("seq", flat=True).first()
    entries = entries.filter(seq__gt=first or 0)
    found = [entries.filter(detail__subjects__contains=[subject]).order_by("seq").first()]
    packed = _pack(subject)
    if packed is not None:
        column = f"{connection.ops.quote_name(LedgerEntry._meta.db_table)}.{connection.ops.quote_name('members')}"
        named = entries.filter(members__isnull=False).alias(
            offset=RawSQL(f"position(%s::bytea IN {column})", [packed], output_field=IntegerField())  # noqa: S611
        )
        found.append(
            next((e for e in named.filter(offset__gt=0).order_by("seq") if subject in batch_subjects(e)), None)
        )
    return min((entry for entry in found if entry is not None), key=lambda entry: entry.seq, default=None)


def entries_for_subject(subject: str) -> QuerySet[LedgerEntry]:
    """Every row about ``subject`` in order: its own rows and the reminder batches that name it (one query,
    both through an index). Its expiry, if it expired, is proven with :func:`batch_entry_for`."""
    return LedgerEntry.objects.filter(
        Q(subject=subject) | Q(subject="", kind__in=INDEXED_BATCH_KINDS, detail__subjects__contains=[subject])
    ).order_by("seq")


@dataclass(frozen=True)
class ChainReport:
    checked: int
    broken_at: int | None = None
    reason: str = ""
    chains: int = 0  # chains that hold rows
    checkpoints: int = 0  # signed checkpoints whose heads were found

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify_chain(*, chain: int | None = None, chunk_size: int = 500) -> ChainReport:
    """Walk each chain in order (or only ``chain``); the first row whose link or content does not match is
    named. With every chain walked, each signed checkpoint is checked too: its signature, and that each head
    it recorded is still in its chain (so rows cut from a chain's end are found)."""
    rows = LedgerEntry.objects.order_by("chain", "seq").values_list(*FIELDS, "chain", "prev_hash", "hash", "members")
    if chain is not None:
        rows = rows.filter(chain=chain)
    expected: dict[int, tuple[int, int, str]] = {}  # seq -> (checkpoint, chain, hash)
    checkpoints = 0
    if chain is None:
        for checkpoint in LedgerCheckpoint.objects.order_by("pk"):
            if not checkpoint_signature_ok(checkpoint):
                return ChainReport(0, -checkpoint.pk, f"signed checkpoint {checkpoint.pk} does not verify")
            for key, (seq, head) in checkpoint.heads.items():
                expected[int(seq)] = (checkpoint.pk, int(key), head)
            checkpoints += 1
    current, previous, checked, chains = None, GENESIS, 0, 0
    for row in rows.iterator(chunk_size=chunk_size):
        *values, row_chain, prev_hash, stored, members = row
        if row_chain != current:
            current, previous, chains = row_chain, GENESIS, chains + 1
        if prev_hash != previous:
            return ChainReport(checked, row[0], f"its link does not match the row before it in chain {row_chain}")
        if _hash(tuple(values), prev_hash) != stored:
            return ChainReport(checked, row[0], "its content does not match its hash")
        if members is not None and not _members_match(values[FIELDS.index("detail")], members):
            return ChainReport(checked, row[0], "its packed subjects do not match its Merkle root")
        wanted = expected.pop(row[0], None)
        if wanted is not None and (wanted[1], wanted[2]) != (row_chain, stored):
            return ChainReport(checked, row[0], f"it differs from signed checkpoint {wanted[0]}")
        previous = stored
        checked += 1
    if expected:
        seq, (checkpoint_pk, missing_chain, _head) = min(expected.items())
        return ChainReport(
            checked, seq, f"the head of chain {missing_chain} signed in checkpoint {checkpoint_pk} is missing"
        )
    return ChainReport(checked, chains=chains, checkpoints=checkpoints)


def _members_match(detail: Any, members: bytes) -> bool:
    """A compact batch entry's packed subjects are its hashed count and Merkle root's (in their stored order)."""
    if not isinstance(detail, dict) or "merkle_root" not in detail:
        return False
    subjects = batch_subjects(LedgerEntry(detail={"packed": detail.get("packed", PACKED)}, members=members))
    return len(subjects) == detail.get("count") and merkle_root(subjects) == detail["merkle_root"]


# --- signed checkpoints of every chain's head ---------------------------------------------------------------
def _checkpoint_document(checkpoint: LedgerCheckpoint) -> bytes:
    document = {"at": checkpoint.at.astimezone(datetime.UTC).isoformat(timespec="microseconds")}
    document["heads"] = checkpoint.heads
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_create(*, now: datetime.datetime | None = None) -> LedgerCheckpoint:
    """Record every chain's head (its last row's number and hash), signed with Ed25519 (the key of the
    consent receipts). Takes every chain's lock for a moment, so the heads are one consistent cut."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            for chain in range(settings.CONSENT_LEDGER_CHAINS):
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_KEY, chain])
        heads = {
            str(chain): [seq, head]
            for chain, seq, head in LedgerEntry.objects.order_by("chain", "-seq")
            .distinct("chain")
            .values_list("chain", "seq", "hash")
        }
        checkpoint = LedgerCheckpoint(at=now, heads=heads, public_key=signing.public_key_b64())
        checkpoint.signature = base64.b64encode(signing.signing_key().sign(_checkpoint_document(checkpoint))).decode()
        checkpoint.save()
    return checkpoint


def checkpoint_signature_ok(checkpoint: LedgerCheckpoint) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(checkpoint.public_key))
        key.verify(base64.b64decode(checkpoint.signature), _checkpoint_document(checkpoint))
    except (InvalidSignature, ValueError):
        return False
    return True


# --- pseudonyms ------------------------------------------------------------------------------------------
def child_pseudonym(child_id: int) -> str:
    row = LedgerPseudonym.objects.filter(child_id=child_id, role=LedgerPseudonym.Role.CHILD).first()
    if row is None:
        row = LedgerPseudonym.objects.create(child_id=child_id, role=LedgerPseudonym.Role.CHILD)
    return row.pseudonym


def child_pseudonyms(child_ids: Sequence[int]) -> dict[int, str]:
    """:func:`child_pseudonym` for many children: one query for those that exist, one INSERT for the others."""
    found = dict(
        LedgerPseudonym.objects.filter(child_id__in=child_ids, role=LedgerPseudonym.Role.CHILD).values_list(
            "child_id", "pseudonym"
        )
    )
    new = [
        LedgerPseudonym(child_id=child_id, role=LedgerPseudonym.Role.CHILD)
        for child_id in dict.fromkeys(child_ids)
        if child_id not in found
    ]
    LedgerPseudonym.objects.bulk_create(new)
    found.update((row.child_id, row.pseudonym) for row in new)
    return found


def parent_pseudonyms(pairs: Sequence[tuple[int, str]]) -> dict[tuple[int, str], str]:
    """:func:`parent_pseudonym` for many (child id, email) pairs: one query, one INSERT for the new ones."""
    wanted = list(dict.fromkeys((child_id, email.strip().lower()) for child_id, email in pairs))
    found = {
        (child_id, email.lower()): pseudonym
        for child_id, email, pseudonym in LedgerPseudonym.objects.filter(
            child_id__in={child_id for child_id, _email in wanted}, role=LedgerPseudonym.Role.PARENT
        ).values_list("child_id", "email", "pseudonym")
    }
    new = [
        LedgerPseudonym(child_id=child_id, role=LedgerPseudonym.Role.PARENT, email=email)
        for child_id, email in wanted
        if (child_id, email) not in found
    ]
    LedgerPseudonym.objects.bulk_create(new)
    found.update(((row.child_id, row.email), row.pseudonym) for row in new)
    return found


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
                policy_version=record.policy_version or _policy_version_in_force(),
                detail=detail or {},
            )
        ],
        now=now,
    )
    return entry


def _policy_version_in_force() -> str:
    # consent.services imports this module at its top: the other way round would be a cycle.
    from .services import policy_version_in_force

    return policy_version_in_force()
