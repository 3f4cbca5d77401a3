"""The consent ledger partitioned into chains: a subject's rows in one chain chosen by a stable hash, each
chain linked and verified on its own, appends to different chains not waiting for each other, and signed
checkpoints of every chain's head that catch a chain cut short or a forged checkpoint."""

from __future__ import annotations

import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from consent import ledger
from consent.models import LedgerCheckpoint, LedgerEntry

pytestmark = pytest.mark.django_db


def _subjects_in_distinct_chains(count: int) -> list[str]:
    found: dict[int, str] = {}
    n = 0
    while len(found) < count:
        subject = f"{n:032x}"
        found.setdefault(ledger.chain_of(subject), subject)
        n += 1
    return list(found.values())


def test_a_subjects_rows_form_one_chain_chosen_by_a_stable_hash(settings: Any) -> None:
    settings.CONSENT_LEDGER_CHAINS = 8
    a, b = _subjects_in_distinct_chains(2)
    for subject in (a, b, a, b, a):
        ledger.append([ledger.Event(kind="reminded", subject=subject)])
    rows = list(LedgerEntry.objects.order_by("seq"))
    assert {row.chain for row in rows if row.subject == a} == {ledger.chain_of(a)}
    assert ledger.chain_of(a) == ledger.chain_of(a) != ledger.chain_of(b)
    of_a = [row for row in rows if row.subject == a]
    assert of_a[0].prev_hash == ledger.GENESIS
    assert [row.prev_hash for row in of_a[1:]] == [row.hash for row in of_a[:-1]]  # linked within the chain
    assert ledger.verify_chain(chain=ledger.chain_of(a)).checked == 3
    assert ledger.verify_chain(chain=ledger.chain_of(b)).checked == 2
    report = ledger.verify_chain()
    assert (report.ok, report.checked, report.chains) == (True, 5, 2)


def test_tampering_in_one_chain_is_named_and_the_other_chain_still_verifies(settings: Any) -> None:
    settings.CONSENT_LEDGER_CHAINS = 8
    a, b = _subjects_in_distinct_chains(2)
    for subject in (a, b, a, b):
        ledger.append([ledger.Event(kind="reminded", subject=subject)])
    target = LedgerEntry.objects.filter(subject=a).order_by("seq").first()
    assert target is not None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE consent_ledgerentry DISABLE TRIGGER consent_ledger_append_only")
        cursor.execute("UPDATE consent_ledgerentry SET kind = 'granted' WHERE id = %s", [target.pk])
        cursor.execute("ALTER TABLE consent_ledgerentry ENABLE TRIGGER consent_ledger_append_only")
    assert ledger.verify_chain(chain=ledger.chain_of(a)).broken_at == target.seq
    assert ledger.verify_chain(chain=ledger.chain_of(b)).ok


def test_a_signed_checkpoint_catches_a_chain_cut_short(settings: Any) -> None:
    settings.CONSENT_LEDGER_CHAINS = 4
    subjects = _subjects_in_distinct_chains(3)
    for subject in subjects * 2:
        ledger.append([ledger.Event(kind="reminded", subject=subject)])
    checkpoint = ledger.checkpoint_create()
    assert len(checkpoint.heads) == 3
    assert ledger.checkpoint_signature_ok(checkpoint)
    out = StringIO()
    call_command("consent_verify_ledger", stdout=out)
    assert "6 rows, chain intact (3 chains, 1 signed checkpoints matched)" in out.getvalue()
    # the last row of one chain removed: its links still hold, but the signed head is gone
    last = LedgerEntry.objects.filter(subject=subjects[1]).order_by("-seq").first()
    assert last is not None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE consent_ledgerentry DISABLE TRIGGER consent_ledger_append_only")
        cursor.execute("DELETE FROM consent_ledgerentry WHERE id = %s", [last.pk])
        cursor.execute("ALTER TABLE consent_ledgerentry ENABLE TRIGGER consent_ledger_append_only")
    assert ledger.verify_chain(chain=last.chain).ok  # the chain alone cannot tell
    with pytest.raises(CommandError, match=rf"broken at row #{last.seq}: the head of chain {last.chain} signed"):
        call_command("consent_verify_ledger")


def test_a_forged_checkpoint_fails_and_checkpoints_are_append_only() -> None:
    ledger.append([ledger.Event(kind="reminded", subject="a" * 32)])
    checkpoint = ledger.checkpoint_create()
    forged = LedgerCheckpoint(
        at=checkpoint.at, heads={"0": [1, "f" * 64]}, public_key=checkpoint.public_key, signature=checkpoint.signature
    )
    assert not ledger.checkpoint_signature_ok(forged)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerCheckpoint.objects.filter(pk=checkpoint.pk).update(heads={})


def test_the_beat_task_signs_a_checkpoint(settings: Any) -> None:
    from consent.tasks import ledger_checkpoint_task

    ledger.append([ledger.Event(kind="reminded", subject="b" * 32)])
    pk = ledger_checkpoint_task.delay().get()
    assert ledger.checkpoint_signature_ok(LedgerCheckpoint.objects.get(pk=pk))
    assert "consent-ledger-checkpoint" in settings.CELERY_BEAT_SCHEDULE


@pytest.mark.django_db(transaction=True)
def test_an_append_waits_only_for_its_own_chain(settings: Any) -> None:
    """A transaction holding chain A's lock does not stop an append to chain B; one to chain A waits."""
    settings.CONSENT_LEDGER_CHAINS = 8
    a, b = _subjects_in_distinct_chains(2)
    holding, release = threading.Event(), threading.Event()

    def hold_chain_a() -> None:
        try:
            with transaction.atomic():
                ledger.append([ledger.Event(kind="reminded", subject=a)])
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_chain_a)
    holder.start()
    assert holding.wait(10)
    try:
        with transaction.atomic():
            ledger.append([ledger.Event(kind="reminded", subject=b)])  # would block here with one global lock
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [ledger.LOCK_KEY, ledger.chain_of(a)])
                assert cursor.fetchone()[0] is False  # chain A is still held by the other transaction
    finally:
        release.set()
        holder.join()
    report = ledger.verify_chain()
    assert (report.ok, report.checked) == (True, 2)
