"""School to parent: a school administrator records one or two parents' addresses for a student the school
registered (on "Add a student", on the student's row, as CSV columns); each parent is emailed and the parent portal
then shows the child's school, classes and grades; removing the address ends the access at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User
from consent.models import Guardian, LedgerEntry
from consent.portal import reads as portal
from consent.services import consent_record_school
from tests.consent.portal_helpers import signed_in_parent
from tests.grading.conftest import World

pytestmark = pytest.mark.django_db

DAD = "dad.of.mia@example.org"
MUM = "mum.of.mia@example.org"
ACCESS_ROLES = ["anonymous", "admin", "teacher", "foreign_teacher", "student", "adult", "superuser", "support"]


@pytest.fixture
def registered(world: World) -> World:
    consent_record_school(child=world.student, school=world.school, granted_by=world.admin)
    return world


def _parents_url(world: World, student: User) -> str:
    return reverse("grading:student_parents", args=[world.school.pk, student.pk])


def test_the_admin_records_two_parents_and_each_is_emailed(
    registered: World, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = registered.client("admin").post(
            _parents_url(registered, registered.student), {"parent_email": DAD, "parent_email_2": MUM.upper()}
        )
    assert response.status_code == 302
    assert sorted(Guardian.objects.filter(record__child=registered.student).values_list("email", flat=True)) == [
        DAD,
        MUM,
    ]
    sent = {m.to[0]: m for m in mail.outbox}
    assert set(sent) == {DAD, MUM}
    assert "Maple Grove registered your child" in sent[DAD].subject
    assert reverse("consent:portal") in sent[DAD].body
    assert registered.student.username in sent[DAD].body
    assert LedgerEntry.objects.filter(kind="guardian_added").count() == 2
    assert [r.child for r in portal.records_visible_to_parent(email=DAD)] == [registered.student]


def test_the_parent_sees_the_school_classes_and_grades_in_the_portal(
    registered: World, django_capture_on_commit_callbacks: Any
) -> None:
    registered.client("admin").post(_parents_url(registered, registered.student), {"parent_email": DAD})
    parent = signed_in_parent(DAD, django_capture_on_commit_callbacks)
    html = parent.get(reverse("consent:portal_child", args=[registered.student.pk])).content.decode()
    assert "Maple Grove" in html
    assert "Year 6 Science" in html
    assert "Plant cells" in html
    assert "17.5" in html


def test_removing_the_address_ends_the_parents_access_at_once(
    registered: World, django_capture_on_commit_callbacks: Any
) -> None:
    admin = registered.client("admin")
    admin.post(_parents_url(registered, registered.student), {"parent_email": DAD})
    parent = signed_in_parent(DAD, django_capture_on_commit_callbacks)
    child_page = reverse("consent:portal_child", args=[registered.student.pk])
    assert parent.get(child_page).status_code == 200

    response = admin.post(_parents_url(registered, registered.student), {"parent_email": "", "parent_email_2": ""})
    assert response.status_code == 302
    assert not Guardian.objects.filter(record__child=registered.student).exists()
    assert parent.get(child_page).status_code == 404
    assert LedgerEntry.objects.filter(kind="guardian_removed").count() == 1


def test_adding_a_student_with_a_parent(world: World, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client("admin").post(
            reverse("grading:student_add", args=[world.school.pk]),
            {"first_name": "Ada", "last_name": "Byron", "parent_email": DAD},
        )
    assert response.status_code == 200
    ada = User.objects.get(first_name="Ada", last_name="Byron")
    assert list(Guardian.objects.filter(record__child=ada).values_list("email", flat=True)) == [DAD]
    assert [m.to for m in mail.outbox] == [[DAD]]


def test_a_csv_with_parent_columns(world: World, django_capture_on_commit_callbacks: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = (f"first_name,last_name,parent_email,parent_email_2\nAda,Byron,{DAD},{MUM}\nGrace,Hopper,,\n").encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = world.client("admin").post(
            reverse("grading:student_import", args=[world.school.pk]),
            {"file": SimpleUploadedFile("students.csv", data, content_type="text/csv")},
        )
    assert response.status_code == 200
    ada = User.objects.get(first_name="Ada")
    grace = User.objects.get(first_name="Grace")
    assert sorted(Guardian.objects.filter(record__child=ada).values_list("email", flat=True)) == [DAD, MUM]
    assert not Guardian.objects.filter(record__child=grace).exists()


def test_a_bad_parent_address_in_the_csv_names_its_line_and_writes_nothing(world: World) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = User.objects.count()
    data = b"first_name,last_name,parent_email\nAda,Byron,dad@example.org\nGrace,Hopper,not-an-address\n"
    response = world.client("admin").post(
        reverse("grading:student_import", args=[world.school.pk]),
        {"file": SimpleUploadedFile("students.csv", data, content_type="text/csv")},
    )
    assert response.status_code == 400
    assert "Line 3: not-an-address is not a valid email address." in response.content.decode()
    assert User.objects.count() == before
    assert not Guardian.objects.exists()


def test_a_teacher_cannot_record_parents(world: World) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    html = world.client("teacher").get(reverse("grading:school_roster", args=[world.school.pk])).content.decode()
    assert 'name="parent_email"' not in html
    data = f"first_name,last_name,parent_email\nAda,Byron,{DAD}\n".encode()
    response = world.client("teacher").post(
        reverse("grading:student_import", args=[world.school.pk]),
        {"file": SimpleUploadedFile("students.csv", data, content_type="text/csv")},
    )
    assert response.status_code == 400
    assert not User.objects.filter(first_name="Ada").exists()
    assert not Guardian.objects.exists()


@pytest.mark.parametrize("role", ACCESS_ROLES)
def test_who_may_open_and_save_a_students_parents(registered: World, role: str) -> None:
    client = registered.client(role)
    url = _parents_url(registered, registered.student)
    page = client.get(url)
    saved = client.post(url, {"parent_email": DAD})
    expected = {"anonymous": 302, "admin": 200}.get(role, 404)
    assert page.status_code == expected
    assert saved.status_code == (302 if role in ("anonymous", "admin") else 404)
    assert Guardian.objects.filter(email=DAD).exists() is (role == "admin")


def test_an_own_account_student_has_no_parents_form(world: World) -> None:
    html = world.client("admin").get(_parents_url(world, world.other_student)).content.decode()
    assert "their parent approved" in html
    assert 'name="parent_email"' not in html
    response = world.client("admin").post(_parents_url(world, world.other_student), {"parent_email": DAD})
    assert response.status_code == 400
    assert not Guardian.objects.exists()
