"""A OneRoster import writes its new students set-based: a batch costs the same statements whatever its size, and
each student's school consent stays provable from the batch's one ledger entry."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from consent import ledger
from consent.models import ConsentMethod, ConsentRecord, Guardian, LedgerEntry
from consent.selectors import ledger_rows_of_child
from grading.models import Enrollment
from mindomo.outbox.models import Delivery
from schools import roster
from schools.models import RosteredPerson, RosterImport, School, SchoolMembership, SchoolStudentAccount
from schools.oneroster_sample import SampleClass, SampleEnrollment, SampleUser
from tests.accounts.factories import UserFactory
from tests.schools.conftest import SchoolWorld, roster_zip

CLASSES = [SampleClass("c-1", "Maths"), SampleClass("c-2", "Art")]


def _district(n: int, prefix: str) -> bytes:
    users: list[SampleUser] = []
    for i in range(n):
        users.append(SampleUser(f"s-{i}", "student", f"Élève{i}", f"{prefix}{i}", agents=(f"g-{i}",)))
        users.append(SampleUser(f"g-{i}", "guardian", "Parent", f"{prefix}{i}", email=f"{prefix}{i}@family.example"))
    enrollments = [SampleEnrollment(f"e-{i}", f"c-{1 + i % 2}", f"s-{i}") for i in range(n)]
    return roster_zip(users=users, classes=CLASSES, enrollments=enrollments)


def _queued(sw: SchoolWorld, school: School, admin: User, data: bytes) -> RosterImport:
    roster_import = roster.roster_preview(actor=admin, school=school, upload=[data], size=len(data))
    assert roster_import.state == RosterImport.State.PREVIEWED, roster_import.summary
    roster.roster_import_start(actor=admin, roster_import=roster_import, confirm_erase=False, queue=False)
    return roster_import


def _import_counting(sw: SchoolWorld, n: int) -> tuple[int, School]:
    school = School.objects.create(name=f"District {n}", country="FR", contact_email=f"office{n}@district.example")
    admin = UserFactory(email=f"admin{n}@district.example")
    SchoolMembership.objects.create(school=school, user=admin, role=SchoolMembership.Role.ADMIN)
    roster_import = _queued(sw, school, admin, _district(n, f"fam{n}-"))
    with CaptureQueriesContext(connection) as queries:
        result = roster.roster_import_run(import_id=roster_import.pk)
    assert result.state == RosterImport.State.DONE, result.error
    return len(queries.captured_queries), school


def test_importing_50_students_costs_no_more_queries_than_10(sw: SchoolWorld) -> None:
    small, small_school = _import_counting(sw, 10)
    big, big_school = _import_counting(sw, 50)
    assert big <= small, (small, big)
    # and everything a school-registered student has was written for each of the 50
    students = User.objects.filter(school_student_account__school=big_school)
    assert students.count() == 50
    assert all(not u.has_usable_password() and u.email == "" and not u.product_updates for u in students)
    assert SchoolMembership.objects.filter(school=big_school, role="student").count() == 50
    assert RosteredPerson.objects.filter(school=big_school, role="student").count() == 50
    records = ConsentRecord.objects.filter(child__in=students)
    assert {(r.method, r.school_id) for r in records} == {(ConsentMethod.SCHOOL, big_school.pk)}
    assert records.count() == 50
    assert Guardian.objects.filter(record__in=records).count() == 50
    assert Delivery.objects.filter(kind="consent.school_guardian_added", to_email__startswith="fam50-").count() == 50
    assert Enrollment.objects.filter(school_class__school=big_school).count() == 50
    assert SchoolStudentAccount.objects.filter(school=small_school).count() == 10


def test_a_batch_is_one_insert_per_table_and_one_ledger_append(sw: SchoolWorld, monkeypatch: Any) -> None:
    monkeypatch.setattr(roster, "IMPORT_BATCH", 20)
    roster_import = _queued(sw, sw.school, sw.admin, _district(45, "batch-"))
    with CaptureQueriesContext(connection) as queries:
        result = roster.roster_import_run(import_id=roster_import.pk)
    assert result.state == RosterImport.State.DONE, result.error

    def inserts(table: str) -> int:
        return sum(1 for q in queries.captured_queries if q["sql"].startswith(f'INSERT INTO "{table}"'))

    batches = 3  # 20 + 20 + 5
    for table in (
        "accounts_user",
        "accounts_schoolmembership",
        "grading_schoolstudentaccount",
        "schools_rosteredperson",
        "consent_consentrecord",
        "consent_guardian",
        "consent_ledgerentry",
        "outbox_delivery",
    ):
        assert inserts(table) == batches, table
    # the two batches of 20 have one "granted" entry each, as has the batch of 5; none has a row per student
    entries = LedgerEntry.objects.filter(kind__in=["granted", "guardian_added"]).order_by("seq")
    assert [(e.kind, e.subject, e.detail["count"]) for e in entries] == [
        (kind, "", count) for count in (20, 20, 5) for kind in ("granted", "guardian_added")
    ]
    assert ledger.verify_chain().ok


def test_one_imported_student_is_provable_from_the_batch_entry(sw: SchoolWorld) -> None:
    roster_import = _queued(sw, sw.school, sw.admin, _district(3, "proof-"))
    assert roster.roster_import_run(import_id=roster_import.pk).state == RosterImport.State.DONE
    student = RosteredPerson.objects.get(school=sw.school, sourced_id="s-1").user
    subject = ledger.child_pseudonym(student.pk)
    assert not LedgerEntry.objects.filter(subject=subject).exists()  # no row of its own: the batch's

    entry = ledger.batch_entry_for(subject, kind="granted")
    assert entry is not None
    assert (entry.method, entry.actor, entry.policy_version) == ("school", "school", "2026-11-30")
    assert (entry.detail["count"], entry.detail["school"]) == (3, sw.school.pk)
    proof = ledger.subject_proof(subject, entry)
    assert ledger.proof_verify(proof, entry)
    assert not ledger.proof_verify(dataclasses.replace(proof, subject="0" * 32), entry)  # not one of them

    out = io.StringIO()
    call_command("consent_prove_subject", subject, "--kind", "granted", stdout=out)
    printed = out.getvalue()
    assert json.loads(printed[: printed.rindex("}") + 1])["subject"] == subject
    assert f"one of the 3 subjects of ledger row #{entry.seq}" in printed

    # the child's history (the parent's portal, the data export) shows the school's consent and the parent added
    assert [e.kind for e in ledger_rows_of_child(student.pk).order_by("seq")] == ["granted", "guardian_added"]
    added = ledger.batch_entry_for(subject, kind="guardian_added")
    assert added is not None
    guardian_pseudonym = ledger.parent_pseudonym(child_id=student.pk, email="proof-1@family.example")
    assert guardian_pseudonym in added.detail["guardians"]
    assert ledger.verify_chain().ok


def test_the_parent_of_an_imported_student_is_told_in_the_schools_language(
    sw: SchoolWorld, django_capture_on_commit_callbacks: Any
) -> None:
    roster_import = _queued(sw, sw.school, sw.admin, _district(2, "mail-"))
    with django_capture_on_commit_callbacks(execute=True):
        assert roster.roster_import_run(import_id=roster_import.pk).state == RosterImport.State.DONE
    sent = {m.to[0]: m for m in mail.outbox}
    assert set(sent) == {"mail-0@family.example", "mail-1@family.example"}
    student = RosteredPerson.objects.get(school=sw.school, sourced_id="s-0").user
    assert "Maple Grove registered your child" in sent["mail-0@family.example"].subject
    assert student.username in sent["mail-0@family.example"].body


@pytest.mark.parametrize("batch", [1, 500])
def test_the_same_zip_imported_again_writes_nothing_whatever_the_batch(
    sw: SchoolWorld, monkeypatch: Any, batch: int
) -> None:
    monkeypatch.setattr(roster, "IMPORT_BATCH", batch)
    data = _district(4, "again-")
    assert roster.roster_import_run(import_id=_queued(sw, sw.school, sw.admin, data).pk).state == "done"
    again = _queued(sw, sw.school, sw.admin, data)
    assert (again.summary["add"], again.summary["change"], again.summary["remove"]) == ([], [], [])
    with CaptureQueriesContext(connection) as queries:
        assert roster.roster_import_run(import_id=again.pk).state == RosterImport.State.DONE
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "schools_rosterimport" not in q["sql"]
    ]
    assert writes == []
