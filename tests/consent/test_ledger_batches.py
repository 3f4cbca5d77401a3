"""Bulk ledger writes: one entry per batch (the batch's pseudonyms and their Merkle root), each subject's
event provable from that entry alone (a tampered proof or entry fails), single-statement appends, and the
ledger's indexes (no redundant varchar_pattern_ops index on the hash)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from consent import ledger, services
from consent.models import LedgerEntry, PendingSignup
from consent.reference_data import ensure_loaded
from tests.consent.test_expiry import make_pending

pytestmark = pytest.mark.django_db


def _expire(count: int) -> tuple[list[str], LedgerEntry]:
    ensure_loaded()
    now = timezone.now()
    subjects = [p.ledger_subject for p in make_pending(count, created=now - timedelta(days=8))]
    assert services.pending_signups_expire(now=now) == count
    return subjects, LedgerEntry.objects.get(kind="expired")


def test_expiring_a_batch_is_one_delete_returning_and_one_ledger_insert() -> None:
    ensure_loaded()
    now = timezone.now()
    expired = make_pending(7, created=now - timedelta(days=8))
    with CaptureQueriesContext(connection) as queries:
        assert services.pending_signups_expire(now=now) == 7
    statements = [q["sql"] for q in queries.captured_queries]
    deletes = [sql for sql in statements if 'DELETE FROM "consent_pendingsignup"' in sql]
    inserts = [sql for sql in statements if sql.startswith('INSERT INTO "consent_ledgerentry"')]
    assert len(deletes) == 1  # the batch, short: nothing is left after it
    assert "FOR UPDATE" not in deletes[0]  # each row written once: the expiry's runs take turns on a lock instead
    assert "pg_advisory_xact_lock" in statements[statements.index(deletes[0]) - 1]
    assert "RETURNING" in deletes[0]
    assert len(inserts) == 1
    assert not PendingSignup.objects.exists()
    (entry,) = LedgerEntry.objects.filter(kind="expired")
    assert entry.subject == ""
    assert entry.detail["count"] == 7
    subjects = ledger.batch_subjects(entry)
    assert sorted(subjects) == sorted(pending.ledger_subject for pending in expired)
    assert entry.detail["merkle_root"] == ledger.merkle_root(subjects)  # over the stored order

    assert ledger.verify_chain().ok


@pytest.mark.parametrize(("count", "per_leaf"), [(1, 64), (2, 1), (5, 2), (8, 2), (13, 3), (200, 64)])
def test_each_subject_of_a_batch_is_proven_from_the_entry(count: int, per_leaf: int, monkeypatch: Any) -> None:
    monkeypatch.setattr(ledger, "LEAF_SUBJECTS", per_leaf)
    subjects, entry = _expire(count)
    for subject in subjects:
        proof = ledger.subject_proof(subject, entry)
        assert ledger.proof_verify(proof, entry)
        assert ledger.batch_entry_for(subject, kind="expired") == entry
    leaves = -(-count // per_leaf)
    assert len(ledger.subject_proof(subjects[0], entry).path) <= max(1, (leaves - 1).bit_length())


def test_a_tampered_proof_fails(monkeypatch: Any) -> None:
    monkeypatch.setattr(ledger, "LEAF_SUBJECTS", 2)  # 3 leaves: a path of 2 steps
    subjects, entry = _expire(6)
    proof = ledger.subject_proof(subjects[2], entry)
    side, sibling = proof.path[0]
    flipped = ("R" if side == "L" else "L", sibling)
    changed = (side, ("0" if sibling[0] != "0" else "1") + sibling[1:])
    outsider = "f" * 32
    for tampered in (
        dataclasses.replace(proof, subject=outsider),  # someone who was not in the batch
        dataclasses.replace(proof, subject=outsider, leaf=tuple(sorted([*proof.leaf[1:], outsider]))),
        dataclasses.replace(proof, path=(changed, *proof.path[1:])),
        dataclasses.replace(proof, path=(flipped, *proof.path[1:])),
        dataclasses.replace(proof, path=proof.path[:-1]),
        dataclasses.replace(proof, path=(("L", "not hex"), *proof.path[1:])),
        dataclasses.replace(proof, root=ledger.merkle_root([outsider])),
        dataclasses.replace(proof, seq=entry.seq + 1),
    ):
        assert not ledger.proof_verify(tampered, entry)
    with pytest.raises(ValueError, match="not a subject"):
        ledger.subject_proof(outsider, entry)


def test_a_proof_against_a_tampered_entry_fails() -> None:
    subjects, entry = _expire(4)
    proof = ledger.subject_proof(subjects[0], entry)
    # someone with database access adds a subject and recomputes the root: the row no longer matches its hash
    forged = sorted([*subjects, "e" * 32])
    entry.detail = {"count": 5, "merkle_root": ledger.merkle_root(forged), "subjects": forged}
    forged_proof = ledger.subject_proof("e" * 32, entry)
    assert not ledger.proof_verify(forged_proof, entry)
    assert not ledger.proof_verify(proof, entry)


def test_a_row_about_one_subject_is_no_batch_and_has_no_proof() -> None:
    (entry,) = ledger.append([ledger.Event(kind="requested", subject="a" * 32)])
    with pytest.raises(ValueError, match="not a batch entry"):
        ledger.subject_proof("a" * 32, entry)


def test_many_events_go_in_with_one_insert_and_keep_their_order() -> None:
    events = [ledger.Event(kind="requested", subject=f"{n:032d}", detail={"n": n}) for n in range(2500)]
    with CaptureQueriesContext(connection) as queries:
        rows = ledger.append(events)
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "consent_ledgerentry"')]
    assert len(inserts) == 1
    stored = list(LedgerEntry.objects.order_by("seq").values_list("pk", "subject", "detail"))
    assert stored == [(row.pk, row.subject, row.detail) for row in rows]
    assert [d["n"] for _pk, _s, d in stored] == list(range(2500))
    assert ledger.verify_chain(chunk_size=100).ok


def test_a_childs_history_includes_the_batch_entries_that_name_it() -> None:
    ledger.append([ledger.Event(kind="requested", subject="c" * 32)])
    ledger.append([ledger.batch_event(kind="reminded", subjects=["d" * 32, "c" * 32])])
    ledger.append([ledger.batch_event(kind="reminded", subjects=["d" * 32])])
    assert [e.kind for e in ledger.entries_for_subject("c" * 32)] == ["requested", "reminded"]


def test_the_hash_is_unique_through_one_index_only() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'consent_ledgerentry'")
        definitions = [row[0] for row in cursor.fetchall()]
    on_hash = [d for d in definitions if "(hash" in d]
    assert len(on_hash) == 1
    assert "UNIQUE" in on_hash[0]
    assert not [d for d in definitions if "pattern_ops" in d]
    (entry,) = ledger.append([ledger.Event(kind="requested", subject="b" * 32)])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO consent_ledgerentry (seq, at, kind, subject, actor, method, rule, policy_version, detail, "
            "prev_hash, hash) VALUES (%s, now(), 'requested', '', '', '', '', '', '{}', '', %s)",
            [entry.seq + 1, entry.hash],
        )


def test_a_subject_is_found_in_reminder_batches_through_the_index() -> None:
    ledger.append([ledger.batch_event(kind="reminded", subjects=[f"{n:032x}" for n in range(50)])])
    sql, params = ledger.entries_for_subject(f"{7:032x}").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "consent_ledger_batch_subjects" in plan
    assert "consent_ledger_subject_seq" in plan
    assert [e.kind for e in ledger.entries_for_subject(f"{7:032x}")] == ["reminded"]


def test_the_command_prints_a_proof_that_verifies_and_refuses_an_unknown_subject() -> None:
    subjects, entry = _expire(3)
    out = StringIO()
    call_command("consent_prove_subject", subjects[1], stdout=out)
    printed = out.getvalue()
    document = json.loads(printed[: printed.rindex("}") + 1])
    proof = ledger.SubjectProof(
        subject=document["subject"],
        seq=document["seq"],
        entry_hash=document["entry_hash"],
        root=document["root"],
        leaf=tuple(document["leaf"]),
        path=tuple((side, sibling) for side, sibling in document["path"]),
    )
    assert ledger.proof_verify(proof, entry)
    assert f"one of the 3 subjects of ledger row #{entry.seq}" in printed
    with pytest.raises(CommandError, match="No expired batch entry"):
        call_command("consent_prove_subject", "0" * 32)


def test_a_run_whose_rows_fill_its_batches_exactly_ends_without_an_empty_batch() -> None:
    ensure_loaded()
    now = timezone.now()
    make_pending(6, created=now - timedelta(days=8))
    with CaptureQueriesContext(connection) as queries:
        assert services.pending_signups_expire(now=now, batch_size=3) == 6
    deletes = [q["sql"] for q in queries.captured_queries if 'DELETE FROM "consent_pendingsignup"' in q["sql"]]
    assert len(deletes) == 2  # 3 + 3; the second saw no seventh row, so no third statement
    assert [entry.detail["count"] for entry in LedgerEntry.objects.filter(kind="expired").order_by("seq")] == [3, 3]


def _tamper(sql: str, params: list[Any]) -> None:
    """What someone with direct database access could do: bypass the append-only trigger."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE consent_ledgerentry DISABLE TRIGGER consent_ledger_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE consent_ledgerentry ENABLE TRIGGER consent_ledger_append_only")


def test_an_expiry_batch_keeps_its_subjects_packed_outside_the_hashed_detail() -> None:
    subjects, entry = _expire(5)
    stored = ledger.batch_subjects(entry)  # in the order the DELETE returned them: not split and sorted in Python
    assert sorted(stored) == sorted(subjects)
    assert entry.detail == {"count": 5, "merkle_root": ledger.merkle_root(stored), "packed": 16}
    assert bytes(entry.members) == bytes.fromhex("".join(stored))  # 16 bytes each
    assert ledger.verify_chain().ok


@pytest.mark.parametrize(
    "change",
    ["drop the last subject", "swap a subject for an outsider", "repeat a subject"],
)
def test_packed_subjects_changed_in_the_database_fail_the_chain_verification(change: str) -> None:
    _subjects, entry = _expire(4)
    packed = bytes(entry.members)
    outsider = bytes.fromhex("f" * 32)
    tampered = {
        "drop the last subject": packed[:-16],
        "swap a subject for an outsider": packed[:-16] + outsider,
        "repeat a subject": packed[:16] + packed[:-16],
    }[change]
    _tamper("UPDATE consent_ledgerentry SET members = %s WHERE id = %s", [tampered, entry.pk])

    report = ledger.verify_chain()
    assert not report.ok
    assert report.broken_at == entry.seq
    assert "packed subjects" in report.reason


def test_a_subject_is_found_only_at_a_whole_pseudonym_of_the_packed_subjects() -> None:
    first, second = "00" * 8 + "11" * 8, "22" * 8 + "33" * 8
    straddling = "11" * 8 + "22" * 8  # the bytes of the end of one and the start of the next: not a subject
    (entry,) = ledger.append([ledger.batch_event(kind="expired", subjects=[second, first], compact=True)])
    assert ledger.batch_entry_for(first, kind="expired") == entry
    assert ledger.batch_entry_for(second, kind="expired") == entry
    assert ledger.batch_entry_for(straddling, kind="expired") is None


def test_an_expiry_batch_written_before_the_packed_format_stays_provable() -> None:
    subjects = [f"{n:032x}" for n in range(1, 6)]
    ledger.append([ledger.Event(kind="requested", subject=subjects[2])])
    (old,) = ledger.append([ledger.batch_event(kind="expired", subjects=subjects)])  # detail.subjects, as before
    assert old.detail["subjects"] == subjects
    assert old.members is None

    entry = ledger.batch_entry_for(subjects[2], kind="expired")
    assert entry == old
    assert ledger.proof_verify(ledger.subject_proof(subjects[2], entry), entry)
    out = StringIO()
    call_command("consent_prove_subject", subjects[2], stdout=out)
    assert f"one of the 5 subjects of ledger row #{old.seq}" in out.getvalue()
    assert ledger.verify_chain().ok


def test_subjects_that_are_not_pseudonyms_stay_in_the_hashed_detail() -> None:
    event = ledger.batch_event(kind="expired", subjects=["b" * 32, "A" * 32], compact=True)
    assert event.members is None
    assert event.detail["subjects"] == ["A" * 32, "b" * 32]
    assert ledger.batch_event(kind="expired", subjects=["ab cd" + "0" * 27], compact=True).members is None


def test_a_compact_entry_s_packed_subjects_travel_as_a_binary_parameter() -> None:
    """The 16 bytes of each pseudonym are sent as they are (a binary parameter bound by the server), not as
    twice as many hex digits inside the statement's text for PostgreSQL's lexer to read."""
    import psycopg

    sent: list[tuple[str, Any, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        sent.append((sql, params, context["cursor"].cursor))
        return execute(sql, params, many, context)

    event = ledger.batch_event(kind="expired", subjects=[f"{n:032x}" for n in range(300)], compact=True)
    with connection.execute_wrapper(record):
        (entry,) = ledger.append([event])

    ((sql, params, cursor),) = [row for row in sent if row[0].startswith('INSERT INTO "consent_ledgerentry"')]
    assert "%b::bytea" in sql
    assert not isinstance(cursor, psycopg.ClientCursor)  # bound by the server: the bytes are not in the SQL text
    assert event.members in params
    entry.refresh_from_db()
    assert bytes(entry.members) == event.members
    assert ledger.batch_subjects(entry) == [f"{n:032x}" for n in range(300)]
    assert ledger.verify_chain().ok


@pytest.mark.parametrize("count", [1, 2, 63, 64, 65, 128, 129, 300])
def test_a_packed_batch_built_from_the_joined_text_commits_to_its_subjects_in_that_order(count: int) -> None:
    """The expiry hands the pseudonyms over as its DELETE returned them, newline-joined: packed and hashed
    from that text (each leaf a slice of it), they give the same members and root as the split list would."""
    subjects = [hashlib.md5(str(n).encode(), usedforsecurity=False).hexdigest() for n in range(count)]
    assert subjects != sorted(subjects) or count == 1
    event = ledger.packed_batch_event(kind="expired", joined="\n".join(subjects))
    assert event.members == bytes.fromhex("".join(subjects))
    assert event.detail == {"count": count, "merkle_root": ledger.merkle_root(subjects), "packed": 16}
    (entry,) = ledger.append([event])
    assert ledger.batch_subjects(entry) == subjects
    assert all(ledger.proof_verify(ledger.subject_proof(s, entry), entry) for s in subjects[:: max(1, count // 7)])
    assert ledger.verify_chain().ok


@pytest.mark.parametrize(
    "subjects",
    [["a" * 31, "b" * 33], ["A" * 32, "b" * 32], ["g" * 32], ["a" * 30 + "  ", "b" * 32], ["a" * 32, ""]],
)
def test_joined_subjects_that_are_not_all_pseudonyms_stay_in_the_hashed_detail(subjects: list[str]) -> None:
    event = ledger.packed_batch_event(kind="expired", joined="\n".join(subjects))
    assert event.members is None
    assert event.detail["subjects"] == sorted(set(subjects))
