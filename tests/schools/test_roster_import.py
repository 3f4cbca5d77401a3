"""OneRoster import and sync: preview, one-transaction import, idempotence, changes, erasure, bad files."""

from __future__ import annotations

import datetime
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AccountDeletionRequest, User
from consent.models import ConsentMethod, ConsentRecord
from consent.selectors import school_guardians_by_child
from grading.models import Enrollment, SchoolClass
from schools import roster
from schools.models import RosteredPerson, RosterImport, SchoolMembership, SchoolStudentAccount, TeacherInvitation
from schools.oneroster_sample import SampleEnrollment, SampleUser
from tests.accounts.factories import UserFactory
from tests.schools.conftest import ENROLLMENTS, GUARDIANS, STAFF, STUDENTS, SchoolWorld, roster_zip
from tests.support.dbscan import assert_erased, tables_containing


def _preview(sw: SchoolWorld, data: bytes) -> RosterImport:
    return roster.roster_preview(actor=sw.admin, school=sw.school, upload=[data], size=len(data))


def _import(sw: SchoolWorld, data: bytes, *, confirm_erase: bool = False) -> RosterImport:
    roster_import = _preview(sw, data)
    assert roster_import.state == RosterImport.State.PREVIEWED, roster_import.summary
    roster.roster_import_start(actor=sw.admin, roster_import=roster_import, confirm_erase=confirm_erase, queue=False)
    return roster.roster_import_run(import_id=roster_import.pk)


def _state() -> tuple[int, ...]:
    return (
        User.objects.count(),
        SchoolMembership.objects.count(),
        SchoolStudentAccount.objects.count(),
        RosteredPerson.objects.count(),
        SchoolClass.objects.count(),
        Enrollment.objects.count(),
        ConsentRecord.objects.count(),
        TeacherInvitation.objects.count(),
    )


def _students(sw: SchoolWorld) -> dict[str, User]:
    return {
        rp.sourced_id: rp.user
        for rp in RosteredPerson.objects.filter(school=sw.school, role="student").select_related("user")
    }


def _class_members(sw: SchoolWorld, title: str) -> set[str]:
    return set(
        Enrollment.objects.filter(school_class__school=sw.school, school_class__name=title).values_list(
            "student__first_name", flat=True
        )
    )


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_first_import_adds_students_classes_enrolments_guardians_under_the_schools_consent(
    sw: SchoolWorld, version: str
) -> None:
    preview = _preview(sw, roster_zip(version=version))
    assert preview.state == RosterImport.State.PREVIEWED
    added = [label for _kind, label in preview.summary["add"]]
    assert {"Mia Khan", "Leo Okafor", "Zoe Novak", "Sam Ito", "Year 6 Science", "Year 6 Art"} <= set(added)
    assert "Alan Turing <turing@maple.example>" in added  # an account with this address: becomes a teacher
    assert "Grace Hopper <hopper@maple.example>" in added  # no account yet: invited
    assert preview.summary["erase"] == []
    assert User.objects.filter(first_name="Mia").count() == 0  # the preview wrote nobody

    result = roster.roster_import_run(import_id=preview.pk)  # not confirmed: nothing runs
    assert result.state == RosterImport.State.PREVIEWED
    roster.roster_import_start(actor=sw.admin, roster_import=preview, confirm_erase=False, queue=False)
    result = roster.roster_import_run(import_id=preview.pk)

    assert result.state == RosterImport.State.DONE
    assert result.file_name == ""  # the zip is deleted
    students = _students(sw)
    assert sorted(u.get_full_name() for u in students.values()) == ["Leo Okafor", "Mia Khan", "Sam Ito", "Zoe Novak"]
    mia = students["stu-1"]
    assert mia.username == "mia.khan"
    assert mia.email == ""
    assert not mia.has_usable_password()
    assert SchoolStudentAccount.objects.filter(user__in=students.values(), school=sw.school).count() == 4
    records = ConsentRecord.objects.filter(child__in=students.values())
    assert {(r.method, r.school_id) for r in records} == {(ConsentMethod.SCHOOL, sw.school.pk)}
    guardians = school_guardians_by_child(child_ids=[u.pk for u in students.values()])
    assert guardians[mia.pk] == ["amir.khan@family.example"]
    assert guardians[students["stu-2"].pk] == ["ngozi@family.example"]
    assert sorted(guardians[students["stu-4"].pk]) == ["ken@family.example", "yuki@family.example"]
    assert students["stu-3"].pk not in guardians
    assert SchoolMembership.objects.filter(school=sw.school, user=sw.teacher, role="teacher").exists()
    assert TeacherInvitation.objects.filter(school=sw.school, email="hopper@maple.example").exists()
    science = SchoolClass.objects.get(school=sw.school, roster_sourced_id="cls-sci")
    assert science.teacher == sw.teacher
    # the class ends with its term (academicSessions.csv's endDate): its grades follow the school's period from it
    assert science.ends_on == datetime.date(2027, 6, 30)
    assert _class_members(sw, "Year 6 Science") == {"Mia", "Leo", "Zoe"}
    assert _class_members(sw, "Year 6 Art") == {"Mia", "Sam"}
    sw.school.refresh_from_db()
    assert sw.school.roster_org_id == "org-1"


def test_importing_the_same_zip_again_changes_nothing(sw: SchoolWorld) -> None:
    _import(sw, roster_zip())
    before = _state()
    preview = _preview(sw, roster_zip())
    assert (preview.summary["add"], preview.summary["change"], preview.summary["remove"]) == ([], [], [])
    roster.roster_import_start(actor=sw.admin, roster_import=preview, confirm_erase=False, queue=False)
    with CaptureQueriesContext(connection) as queries:
        result = roster.roster_import_run(import_id=preview.pk)
    assert result.state == RosterImport.State.DONE
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
        and "schools_rosterimport" not in q["sql"]
    ]
    assert writes == []
    assert _state() == before


def test_a_changed_file_moves_adds_and_removes_and_erases_after_confirmation(sw: SchoolWorld) -> None:
    _import(sw, roster_zip())
    students = _students(sw)
    zoe = students["stu-3"]
    users = [u for u in STUDENTS if u.sourced_id != "stu-3"]
    users.append(SampleUser("stu-5", "student", "Ada", "Lovelace", username="ada.l"))
    enrollments = [e for e in ENROLLMENTS if e.user_id != "stu-3" and e.sourced_id != "enr-2"]
    enrollments += [SampleEnrollment("enr-6", "cls-art", "stu-2"), SampleEnrollment("enr-7", "cls-sci", "stu-5")]
    changed = roster_zip(users=[*users, *STAFF, *GUARDIANS], enrollments=enrollments)

    preview = _preview(sw, changed)
    summary = preview.summary
    assert ("student", "Ada Lovelace") in [tuple(x) for x in summary["add"]]
    assert ["enrolment", "Leo Okafor → Year 6 Art"] in summary["add"]
    assert ["enrolment", "Leo Okafor → Year 6 Science"] in summary["remove"]
    assert summary["erase"] == ["Zoe Novak"]  # exactly who goes
    assert preview.erase_user_ids == [zoe.pk]

    page = sw.client(sw.admin).get(reverse("schools:roster_import", args=[sw.school.pk, preview.pk]))
    assert "Zoe Novak" in page.content.decode()
    with pytest.raises(Exception, match="Confirm"):
        roster.roster_import_start(actor=sw.admin, roster_import=preview, confirm_erase=False, queue=False)
    roster.roster_import_start(actor=sw.admin, roster_import=preview, confirm_erase=True, queue=False)
    result = assert_erased(
        ["Novak", zoe.username],
        lambda: roster.roster_import_run(import_id=preview.pk),
        kept=frozenset({"consent_ledgerentry"}),
    )
    assert result.state == RosterImport.State.DONE
    assert result.summary["result"]["erased"] == 1
    assert not User.objects.filter(pk=zoe.pk).exists()
    assert AccountDeletionRequest.objects.filter(state=AccountDeletionRequest.State.ERASED).count() == 1
    assert _class_members(sw, "Year 6 Science") == {"Mia", "Ada"}
    assert _class_members(sw, "Year 6 Art") == {"Mia", "Sam", "Leo"}


def test_a_student_with_their_own_account_only_leaves(sw: SchoolWorld) -> None:
    _import(sw, roster_zip())
    own = UserFactory(first_name="Zoe", last_name="Novak")
    # Zoe's rostered account is replaced by a student with her own account linked to the same sourcedId
    link = RosteredPerson.objects.get(school=sw.school, sourced_id="stu-3")
    old = link.user
    SchoolStudentAccount.objects.filter(user=old).delete()
    link.user_id = own.pk
    link.save()
    SchoolMembership.objects.create(school=sw.school, user=own, role="student")
    users = [u for u in STUDENTS if u.sourced_id != "stu-3"]
    enrollments = [e for e in ENROLLMENTS if e.user_id != "stu-3"]
    result = _import(sw, roster_zip(users=[*users, *STAFF, *GUARDIANS], enrollments=enrollments))
    assert result.summary["counts"]["erase"] == 0
    assert result.summary["counts"]["remove"] >= 1
    assert User.objects.filter(pk=own.pk).exists()
    assert not SchoolMembership.objects.filter(school=sw.school, user=own).exists()


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("users.csv", b"0" * (70 * 1024 * 1024))
    return buffer.getvalue()


def _replace(name: str, data: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(roster_zip()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            archive.writestr(info.filename, data if info.filename == name else source.read(info.filename))
    return buffer.getvalue()


BAD_FILES = {
    "unknown role": (
        lambda: roster_zip(users=[SampleUser("x-1", "wizard", "Harry", "Potter"), *STAFF]),
        "users.csv, line 2: unknown role wizard.",
    ),
    "missing column": (
        lambda: _replace("classes.csv", b"sourcedId,status,title\r\ncls-1,active,Maths\r\n"),
        "classes.csv, line 1: the required column schoolSourcedId is missing.",
    ),
    "enrolment to an unknown class": (
        lambda: roster_zip(enrollments=[*ENROLLMENTS, SampleEnrollment("enr-x", "cls-nope", "stu-1")]),
        "enrollments.csv, line 9: the class cls-nope is not in classes.csv.",
    ),
    "duplicate sourcedId": (
        lambda: roster_zip(users=[*STUDENTS, STUDENTS[0], *STAFF, *GUARDIANS]),
        "users.csv, line 6: the sourcedId stu-1 appears twice.",
    ),
    "not UTF-8": (
        lambda: _replace("users.csv", "sourcedId,role,givenName,familyName\r\nu1,student,Zoë,N\r\n".encode("latin-1")),
        "users.csv, line 2: the file is not UTF-8 text.",
    ),
    "zip bomb": (_bomb, "once unpacked"),
    "not a zip": (lambda: b"first_name,last_name\nAda,Lovelace\n", "not a OneRoster zip"),
    "a file missing": (
        lambda: _without("enrollments.csv"),
        "enrollments.csv: the file is missing from the zip.",
    ),
}


def _without(name: str) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(roster_zip()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            if info.filename != name:
                archive.writestr(info.filename, source.read(info.filename))
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_with_its_file_and_line_and_nothing_is_written(sw: SchoolWorld, case: str) -> None:
    build, message = BAD_FILES[case]
    before = _state()
    response = sw.client(sw.admin).post(
        reverse("schools:roster_upload", args=[sw.school.pk]),
        {"file": _named(build(), "roster.zip")},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert message.replace("'", "&#x27;") in text
    roster_import = RosterImport.objects.get(school=sw.school)
    assert roster_import.state == RosterImport.State.REFUSED
    assert roster_import.file_name == ""
    assert _state() == before
    assert list((Path(_media()) / "rosters").glob("*.zip")) == []


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(sw: SchoolWorld, settings: Any) -> None:
    settings.ROSTER_UPLOAD_MAX_BYTES = 1000
    response = sw.client(sw.admin).post(
        reverse("schools:roster_upload", args=[sw.school.pk]), {"file": _named(roster_zip(), "roster.zip")}
    )
    assert response.status_code == 400
    assert not RosterImport.objects.exists()


def test_demographics_are_never_read_nor_stored(sw: SchoolWorld) -> None:
    demographics = b"sourcedId,status,dateLastModified,birthDate,sex\r\nstu-1,active,,2014-03-15,female\r\n"
    data = roster_zip(extra={"demographics.csv": demographics})
    preview = _preview(sw, data)
    assert any("demographics.csv" in note for note in preview.summary["notes"])
    result = _import(sw, data)
    assert result.state == RosterImport.State.DONE
    assert tables_containing("2014-03-15") == {}


def _media() -> str:
    from django.conf import settings

    return str(settings.MEDIA_ROOT)


def _named(data: bytes, name: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/zip")


def test_the_page_flow_previews_then_imports(sw: SchoolWorld, django_capture_on_commit_callbacks: Any) -> None:
    client = sw.client(sw.admin)
    response = client.post(
        reverse("schools:roster_upload", args=[sw.school.pk]), {"file": _named(roster_zip(), "r.zip")}, follow=True
    )
    assert response.status_code == 200
    assert "Mia Khan" in response.content.decode()
    roster_import = RosterImport.objects.get()
    url = reverse("schools:roster_import", args=[sw.school.pk, roster_import.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {})
    assert response.status_code == 302
    roster_import.refresh_from_db()
    assert roster_import.state == RosterImport.State.DONE
    assert len(_students(sw)) == 4


def test_the_command_runs_the_same_import(sw: SchoolWorld, tmp_path: Path) -> None:
    path = tmp_path / "roster.zip"
    path.write_bytes(roster_zip())
    out = io.StringIO()
    call_command("roster_import", str(path), "--school", str(sw.school.pk), "--preview", stdout=out)
    assert "Mia Khan" in out.getvalue()
    assert not _students(sw)
    call_command("roster_import", str(path), "--school", str(sw.school.pk), stdout=out)
    assert len(_students(sw)) == 4
    assert RosterImport.objects.filter(state=RosterImport.State.DONE).count() == 1


@pytest.mark.parametrize("role", ["teacher", "other_admin", "member"])
def test_only_the_schools_administrators_reach_the_import_pages(sw: SchoolWorld, role: str) -> None:
    roster_import = _preview(sw, roster_zip())
    other = UserFactory()
    if role == "teacher":
        SchoolMembership.objects.create(school=sw.school, user=other, role="teacher")
    elif role == "other_admin":
        from schools.models import School

        elsewhere = School.objects.create(name="Elsewhere", country="US", contact_email="x@else.example")
        SchoolMembership.objects.create(school=elsewhere, user=other, role="admin")
    client = sw.client(other)
    assert client.get(reverse("schools:roster_upload", args=[sw.school.pk])).status_code == 404
    detail = reverse("schools:roster_import", args=[sw.school.pk, roster_import.pk])
    assert client.get(detail).status_code == 404
    assert client.post(detail, {"confirm_erase": "on"}).status_code == 404
    assert client.post(reverse("schools:roster_cancel", args=[sw.school.pk, roster_import.pk])).status_code == 404
    roster_import.refresh_from_db()
    assert roster_import.state == RosterImport.State.PREVIEWED
    assert sw.client(sw.admin).get(detail).status_code == 200


def test_anonymous_visitors_are_sent_to_sign_in(sw: SchoolWorld, client: Any) -> None:
    response = client.get(reverse("schools:roster_upload", args=[sw.school.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_preview_never_imported_is_deleted_after_its_time(sw: SchoolWorld, settings: Any) -> None:
    import datetime

    from django.utils import timezone

    old, fresh = _preview(sw, roster_zip()), _preview(sw, roster_zip())
    RosterImport.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(hours=settings.ROSTER_PREVIEW_TTL_HOURS + 1)
    )
    assert roster.roster_previews_expired_delete() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.state, old.file_name) == (RosterImport.State.CANCELLED, "")
    assert "Mia Khan" not in str(old.summary)  # the names were for the preview only
    assert fresh.state == RosterImport.State.PREVIEWED
    assert [p.name for p in (Path(_media()) / "rosters").glob("*.zip")] == [fresh.file_name]


def test_an_end_chosen_at_the_school_stays_when_the_roster_is_imported_again(sw: SchoolWorld) -> None:
    _import(sw, roster_zip())
    chosen = datetime.date(2027, 3, 31)
    SchoolClass.objects.filter(school=sw.school, roster_sourced_id="cls-art").update(ends_on=chosen)
    SchoolClass.objects.filter(school=sw.school, roster_sourced_id="cls-sci").update(ends_on=None)
    _import(sw, roster_zip())
    ends = dict(SchoolClass.objects.filter(school=sw.school).values_list("roster_sourced_id", "ends_on"))
    assert ends == {"cls-art": chosen, "cls-sci": datetime.date(2027, 6, 30)}
