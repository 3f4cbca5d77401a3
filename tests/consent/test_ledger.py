"""The consent ledger: every consent event appended, chained by hashes, refused any UPDATE or DELETE by
the database, verified by a command that names the first broken row, and anonymous after a deletion."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from consent import age_gate, ledger, services
from consent.models import ConsentRecord, LedgerEntry, LedgerPseudonym, PendingSignup
from consent.portal import actions as portal
from consent.reference_data import ensure_loaded
from tests.consent.helpers import birth_date_for_age
from tests.consent.portal_helpers import consented_child
from tests.support.dbscan import tables_containing

pytestmark = pytest.mark.django_db


def _decision() -> age_gate.Decision:
    ensure_loaded()
    return age_gate.decide(birth_date=birth_date_for_age(9), country="US", today=timezone.now().date())


def _tamper(sql: str, params: list[Any]) -> None:
    """What someone with direct database access could do: bypass the append-only trigger."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("ALTER TABLE consent_ledgerentry DISABLE TRIGGER consent_ledger_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE consent_ledgerentry ENABLE TRIGGER consent_ledger_append_only")


def test_every_consent_event_is_appended_with_rule_policy_and_method(settings: Any) -> None:
    settings.CONSENT_EMAILS_PER_PARENT_PER_DAY = 50
    refused = services.pending_signup_create(
        login="kid.a", password="x-long-pass-42", parent_email="p1@example.org", decision=_decision()
    )
    services.pending_signup_resend(public_id=refused.public_id, key=refused.key)
    services.pending_signup_refuse(public_id=refused.public_id, key=refused.key)
    services.pending_signup_create(
        login="kid.b", password="x-long-pass-42", parent_email="p2@example.org", decision=_decision()
    )
    now = timezone.now()
    services.pending_signups_remind(now=now + timedelta(days=4))
    services.pending_signups_expire(now=now + timedelta(days=8))
    child = consented_child("kid.c", "p3@example.org")
    record = ConsentRecord.objects.get(child=child)
    portal.portal_child_suspend(record=record, parent_email="p3@example.org")
    portal.portal_child_resume(record=record, parent_email="p3@example.org")
    portal.portal_child_erase(record=record, parent_email="p3@example.org", withdraw=True)

    kinds = list(LedgerEntry.objects.order_by("seq").values_list("kind", flat=True))
    assert kinds == [
        "requested", "resent", "refused",  # kid.a
        "requested", "reminded", "expired",  # kid.b
        "requested", "granted", "suspended", "resumed", "withdrawn",  # kid.c
    ]  # fmt: skip
    granted = LedgerEntry.objects.get(kind="granted")
    assert (granted.method, granted.rule, granted.rule_version) == ("email_plus", "US", 1)
    assert granted.policy_version == "2026-11-30"  # the version in force, not the setting's fallback
    # one subject from the request to the deletion; the parent is a different pseudonym
    kid_c = list(LedgerEntry.objects.filter(seq__gte=granted.seq - 1).values_list("subject", flat=True))
    assert len(set(kid_c)) == 1
    assert granted.actor not in kid_c
    assert ledger.verify_chain().ok


def test_the_database_refuses_to_update_or_delete_a_ledger_row() -> None:
    consented_child("kid.d", "p4@example.org")
    for attempt in (
        lambda: LedgerEntry.objects.update(kind="refused"),
        lambda: LedgerEntry.objects.all().delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert LedgerEntry.objects.count() == 2


def test_the_command_verifies_an_intact_chain() -> None:
    consented_child("kid.e", "p5@example.org")
    out = StringIO()
    call_command("consent_verify_ledger", stdout=out)
    assert "2 rows, chain intact" in out.getvalue()


@pytest.mark.parametrize(
    ("tampering", "broken"),
    [
        ("UPDATE consent_ledgerentry SET kind = 'refused' WHERE seq = %s", 1),
        ("UPDATE consent_ledgerentry SET at = at - interval '1 day' WHERE seq = %s", 1),
        ("DELETE FROM consent_ledgerentry WHERE seq = %s", 2),
    ],
    ids=["changed-event", "back-dated", "removed-row"],
)
def test_tampering_with_one_row_is_detected_and_the_first_broken_row_named(tampering: str, broken: int) -> None:
    for n in range(2):
        consented_child(f"kid.f{n}", f"p6{n}@example.org")  # 4 rows: each child's two in its own chain
    first = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))[:2]  # kid.f0's rows
    _tamper(tampering, [first[0]])

    with pytest.raises(CommandError, match=rf"broken at row #{first[broken - 1]}\b"):
        call_command("consent_verify_ledger")


def test_after_a_deletion_the_ledger_holds_nothing_identifying_and_still_verifies(
    django_capture_on_commit_callbacks: Any,
) -> None:
    child = consented_child("kid.g", "p7@example.org")
    subject = ledger.child_pseudonym(child.pk)
    assert tables_containing("kid.g")
    assert tables_containing("p7@example.org")
    assert LedgerPseudonym.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):  # the parent's confirmation goes out (then forgotten)
        portal.portal_child_erase(
            record=ConsentRecord.objects.get(child=child), parent_email="p7@example.org", withdraw=False
        )

    assert LedgerEntry.objects.filter(subject=subject).count() == 3  # requested, granted, withdrawn
    assert not LedgerPseudonym.objects.exists()
    assert not PendingSignup.objects.exists()
    assert tables_containing("kid.g") == {}
    assert tables_containing("p7@example.org") == {}
    assert ledger.verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_appends_from_many_transactions_at_once_keep_one_unbroken_chain() -> None:
    import threading

    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            for i in range(10):
                with transaction.atomic():
                    ledger.append([ledger.Event(kind="reminded", subject=f"{n:02d}{i:030d}")])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = list(LedgerEntry.objects.values_list("seq", flat=True))
    assert len(set(numbers)) == 40
    report = ledger.verify_chain()
    assert report.ok
    assert report.checked == 40
