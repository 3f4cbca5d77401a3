"""The grading privacy provider: a student's grades in their export; erasure removes them from every table."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from grading.models import GradeAudit, SchoolClass
from mindomo.privacy import registry
from tests.grading.conftest import SECRET_FEEDBACK, World
from tests.support.dbscan import assert_erased


def test_grades_are_declared_in_the_registry() -> None:
    models = {d.model for provider, d in registry.declarations() if provider.name == "grading"}
    assert {"grading.Grade", "grading.GradeAudit", "grading.Enrollment", "grading.GradeExport"} <= models
    school_models = {d.model for provider, d in registry.declarations() if provider.name == "schools"}
    assert school_models == {
        "schools.SchoolStudentAccount",
        "schools.TeacherInvitation",
        "schools.RosteredPerson",
        "schools.RosterImport",
        "schools.TeacherJoinRequest",
    }


def test_student_export_holds_their_grades_only(world: World) -> None:
    assert registry.export_user(world.student)["schools"]["school_registration"]["school"] == "Maple Grove"
    data = registry.export_user(world.student)["grading"]
    assert data["grades"] == [
        {
            "class": "Year 6 Science",
            "school": "Maple Grove",
            "assignment": "Plant cells",
            "due_date": world.assignment.due_date.isoformat(),
            "score": "17.50",
            "max_score": "20.00",
            "feedback": SECRET_FEEDBACK,
            "graded_at": world.grade.graded_at.isoformat(),
        }
    ]
    assert registry.export_user(world.other_student)["grading"]["grades"] == []
    assert registry.export_user(world.teacher)["grading"]["classes_taught"] == [
        {"class": "Year 6 Science", "school": "Maple Grove"}
    ]


def test_erasing_a_student_removes_their_grades_everywhere(world: World, erase_now: Any) -> None:
    GradeAudit.objects.create(
        assignment=world.assignment,
        student=world.student,
        action="updated",
        old_score=Decimal("1"),
        new_score=Decimal("17.5"),
        old_feedback="",
        new_feedback=SECRET_FEEDBACK,
        changed_by=world.teacher,
        changed_at=timezone.now(),
    )
    assert_erased([SECRET_FEEDBACK], lambda: erase_now(world.student))


def test_erasing_a_teacher_keeps_the_class_and_the_students_grades(world: World, erase_now: Any) -> None:
    erase_now(world.teacher)
    school_class = SchoolClass.objects.get(pk=world.school_class.pk)
    assert school_class.teacher is None
    assert world.grade.__class__.objects.filter(pk=world.grade.pk).exists()
