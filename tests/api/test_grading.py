"""Grading over the API: a student's own grades, a teacher's classes and gradebook, reports after the notice."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from grading.models import Grade, GradeAudit, GradeExport
from tests.accounts.factories import UserFactory
from tests.api.helpers import app_login, call
from tests.grading.factories import (
    AssignmentFactory,
    EnrollmentFactory,
    GradeFactory,
    MembershipFactory,
    SchoolClassFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    teacher = UserFactory(username="teacher")
    membership = MembershipFactory(user=teacher, role="teacher")
    school_class = SchoolClassFactory(school=membership.school, teacher=teacher, name="7B")
    assignment = AssignmentFactory(school_class=school_class, title="Fractions", max_score=Decimal("20"))
    student = UserFactory(username="student", first_name="Mia", last_name="Khan")
    MembershipFactory(user=student, school=membership.school)
    EnrollmentFactory(school_class=school_class, student=student)
    grade = GradeFactory(assignment=assignment, student=student, score=Decimal("17.5"), graded_by=teacher)
    other_teacher = UserFactory(username="other_teacher")
    other = MembershipFactory(user=other_teacher, role="teacher")
    other_class = SchoolClassFactory(school=other.school, teacher=other_teacher)
    return {
        "teacher": teacher,
        "class": school_class,
        "assignment": assignment,
        "student": student,
        "grade": grade,
        "other_class": other_class,
    }


def test_a_student_reads_their_own_grades_only(client: Client, world: dict[str, Any]) -> None:
    GradeFactory(score=Decimal("3"))  # someone else's
    auth = {"X-Session-Token": app_login(client, "student")}
    grades = call(client, "get", "/api/v1/grades/", **auth).json()
    assert [(g["assignment"], g["score"]) for g in grades["items"]] == [("Fractions", "17.5")]


def test_a_teacher_reads_classes_roster_assignments_and_the_gradebook(client: Client, world: dict[str, Any]) -> None:
    auth = {"X-Session-Token": app_login(client, "teacher")}
    classes = call(client, "get", "/api/v1/teaching/classes/", **auth).json()["items"]
    assert [c["name"] for c in classes] == ["7B"]
    class_id = world["class"].pk
    roster = call(client, "get", f"/api/v1/teaching/classes/{class_id}/roster/", **auth).json()["items"]
    assert [r["last_name"] for r in roster] == ["Khan"]
    book = call(client, "get", f"/api/v1/teaching/classes/{class_id}/gradebook/", **auth).json()
    assert book["cells"] == [
        {
            "student_id": world["student"].pk,
            "assignment_id": world["assignment"].pk,
            "score": "17.5",
            "feedback": "Good work",
        }
    ]
    other_id = world["other_class"].pk
    for path in ("roster/", "assignments/", "gradebook/"):
        assert call(client, "get", f"/api/v1/teaching/classes/{other_id}/{path}", **auth).status_code == 404
        assert call(client, "get", f"/api/v1/teaching/classes/99999999/{path}", **auth).status_code == 404


def _cell(world: dict[str, Any], score: str | None, **extra: Any) -> dict[str, Any]:
    return {"student_id": world["student"].pk, "assignment_id": world["assignment"].pk, "score": score, **extra}


def test_the_bulk_write_saves_good_cells_with_an_audit_row(client: Client, world: dict[str, Any]) -> None:
    auth = {"X-Session-Token": app_login(client, "teacher")}
    url = f"/api/v1/teaching/classes/{world['class'].pk}/gradebook/"
    response = call(client, "put", url, {"cells": [_cell(world, "19", feedback="Better")]}, **auth)
    assert response.json() == {"created": 0, "updated": 1, "cleared": 0}
    assert Grade.objects.get(pk=world["grade"].pk).score == Decimal("19")
    assert GradeAudit.objects.filter(action="updated").count() == 1


@pytest.mark.parametrize(
    "cells",
    [
        [{"score": "21"}],
        [{"score": "abc"}],
        [{"score": "1.234"}],
        [{"score": None, "feedback": "no score"}],
        [{"score": "NaN"}],
        [{"score": "5"}, {"student_id": 999999}],
        [{"score": "5"}, {"assignment_id": 999999}],
        [{"score": "5", "extra": 1}],
        [{"score": 5}],
        [{"score": "5", "feedback": "x" * 2001}],
    ],
)
def test_any_bad_cell_saves_nothing(client: Client, world: dict[str, Any], cells: list[dict[str, Any]]) -> None:
    auth = {"X-Session-Token": app_login(client, "teacher")}
    body = {"cells": [{**_cell(world, "5"), **cell} for cell in cells]}
    if len(cells) > 1:  # a good cell first, then the bad one
        body["cells"][0] = _cell(world, "5")
    before = list(Grade.objects.values_list("pk", "score", "feedback"))

    response = call(client, "put", f"/api/v1/teaching/classes/{world['class'].pk}/gradebook/", body, **auth)

    assert response.status_code == 400
    assert response.json()["errors"]
    assert list(Grade.objects.values_list("pk", "score", "feedback")) == before
    assert not GradeAudit.objects.exists()


def test_another_teacher_cannot_write_the_gradebook(client: Client, world: dict[str, Any]) -> None:
    auth = {"X-Session-Token": app_login(client, "other_teacher")}
    response = call(
        client,
        "put",
        f"/api/v1/teaching/classes/{world['class'].pk}/gradebook/",
        {"cells": [_cell(world, "1")]},
        **auth,
    )
    assert response.status_code == 404
    assert Grade.objects.get(pk=world["grade"].pk).score == Decimal("17.5")


def test_the_report_needs_the_notice_then_is_logged(client: Client, world: dict[str, Any]) -> None:
    auth = {"X-Session-Token": app_login(client, "teacher")}
    url = f"/api/v1/teaching/assignments/{world['assignment'].pk}/report/"
    refused = call(client, "get", url, **auth)
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (403, "notice_required")
    assert not GradeExport.objects.exists()

    assert call(client, "post", "/api/v1/teaching/report-notice/", {"acknowledged": True}, **auth).status_code == 200
    report = call(client, "get", url + "?format=csv", **auth)
    assert report.status_code == 200
    assert "Khan" in b"".join(report.streaming_content).decode()
    pseudonymous = call(client, "get", url + "?format=xlsx&pseudonymous=true", **auth)
    assert pseudonymous.status_code == 200
    assert GradeExport.objects.count() == 2

    student = {"X-Session-Token": app_login(Client(), "student")}
    assert call(client, "get", url, **student).status_code == 404


def test_a_report_too_large_for_a_request_is_refused_as_xlsx_and_streamed_as_csv(
    client: Client, world: dict[str, Any], settings: Any
) -> None:
    """Above REPORT_INLINE_MAX_ROWS the sheet is seconds of CPU: the API sends no XLSX (the website prepares it as
    a background job); the CSV (PostgreSQL's COPY) still streams."""
    settings.REPORT_INLINE_MAX_ROWS = 0
    auth = {"X-Session-Token": app_login(client, "teacher")}
    url = f"/api/v1/teaching/assignments/{world['assignment'].pk}/report/"
    assert call(client, "post", "/api/v1/teaching/report-notice/", {"acknowledged": True}, **auth).status_code == 200

    refused = call(client, "get", url + "?format=xlsx", **auth)

    error = refused.json()["errors"][0]
    assert (refused.status_code, error["code"], error["param"]) == (400, "report_too_large", "format")
    assert "more than 0 rows" in error["message"]
    assert not GradeExport.objects.exists()
    assert call(client, "get", url + "?format=csv", **auth).status_code == 200


def test_a_school_administrator_reads_the_roster_and_adds_a_student(
    client: Client, world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    from schools.models import SchoolMembership, SchoolStudentAccount

    school = world["class"].school
    UserFactory(username="principal")
    MembershipFactory(user=User.objects.get(username="principal"), school=school, role="admin")
    auth = {"X-Session-Token": app_login(client, "principal")}

    schools = call(client, "get", "/api/v1/schools/", **auth).json()["items"]
    assert [(s["id"], s["administrator"]) for s in schools] == [(school.pk, True)]
    roster = call(client, "get", f"/api/v1/schools/{school.pk}/roster/", **auth).json()["items"]
    assert {m["username"] for m in roster} == {"teacher", "student", "principal"}

    body = {"first_name": "Grace", "last_name": "Hopper", "parent_email": "hopper.parent@example.org"}
    with django_capture_on_commit_callbacks(execute=True):
        created = call(client, "post", f"/api/v1/schools/{school.pk}/students/", body, **auth)
    assert created.status_code == 201, created.content
    grace = User.objects.get(pk=created.json()["user_id"])
    assert (grace.first_name, grace.email) == ("Grace", "")
    assert SchoolStudentAccount.objects.filter(user=grace, school=school).exists()
    assert SchoolMembership.objects.filter(user=grace, school=school, role="student").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "", "last_name": "Hopper"},
        {"first_name": "Grace", "last_name": "Hopper", "username": "bad name!"},
        {"first_name": "Grace", "last_name": "Hopper", "username": "student"},
        {"first_name": "Grace", "last_name": "Hopper", "role": "admin"},
        {"first_name": "Grace", "last_name": "Hopper", "parent_email": "not-an-email"},
    ],
)
def test_a_bad_student_creates_nothing(client: Client, world: dict[str, Any], body: dict[str, Any]) -> None:
    school = world["class"].school
    admin = UserFactory(username="principal")
    MembershipFactory(user=admin, school=school, role="admin")
    auth = {"X-Session-Token": app_login(client, "principal")}
    before = User.objects.count()
    response = call(client, "post", f"/api/v1/schools/{school.pk}/students/", body, **auth)
    assert response.status_code == 400
    assert User.objects.count() == before


def test_no_one_outside_the_school_reads_its_roster_or_adds_students(client: Client, world: dict[str, Any]) -> None:
    school = world["class"].school
    before = User.objects.count()
    for login in ("student", "other_teacher"):
        auth = {"X-Session-Token": app_login(Client(), login)}
        assert call(client, "get", f"/api/v1/schools/{school.pk}/roster/", **auth).status_code == 404
        body = {"first_name": "Eve", "last_name": "Intruder"}
        assert call(client, "post", f"/api/v1/schools/{school.pk}/students/", body, **auth).status_code == 404
    teacher = {"X-Session-Token": app_login(Client(), "teacher")}
    body = {"first_name": "Eve", "last_name": "K", "parent_email": "p@example.org"}
    assert call(client, "post", f"/api/v1/schools/{school.pk}/students/", body, **teacher).status_code == 403
    assert User.objects.count() == before
