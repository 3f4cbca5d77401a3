"""Grades, enrollments and grade-report downloads in the privacy registry (export, erase, parent overview)."""

from __future__ import annotations

from typing import Any

from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from mindomo import privacy
from schools.models import GRADE_RETENTION_MONTHS_DEFAULT, GRADE_RETENTION_MONTHS_MAX, GRADE_RETENTION_MONTHS_MIN

from . import retention
from .models import (
    ClassJoinRequest,
    Enrollment,
    Grade,
    GradeAudit,
    GradeExport,
    ReportNoticeAcknowledgement,
    SchoolClass,
)


def _school_period() -> str:
    return ngettext(
        "deleted when the school's grade retention period has passed since the class ended: %(months)d month "
        "unless the school chose another period (from %(min)d to %(max)d months)",
        "deleted when the school's grade retention period has passed since the class ended: %(months)d months "
        "unless the school chose another period (from %(min)d to %(max)d months)",
        GRADE_RETENTION_MONTHS_DEFAULT,
    ) % {"months": GRADE_RETENTION_MONTHS_DEFAULT, "min": GRADE_RETENTION_MONTHS_MIN, "max": GRADE_RETENTION_MONTHS_MAX}


# Rendered in the reader's language when a page shows it.
SCHOOL_PERIOD = lazy(_school_period, str)()

# The parent's page lists a child's newest grades; the download holds them all.
LATEST_GRADES_SHOWN = 10


@privacy.register
class GradingPrivacyProvider(privacy.PrivacyProvider):
    name = "grading"
    label = _("Classes and grades")
    legal_basis = _(
        "Contract with the school and the teacher (GDPR Art. 6(1)(b)); for a child, the parent's or the school's "
        "consent (Art. 8; COPPA)."
    )
    data_subjects = _("Students and teachers.")
    erase_order = 200

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="grading.Grade",
                fields=("assignment", "student", "score", "feedback", "graded_by", "graded_at"),
                purpose=_(
                    "Let a teacher grade a student's work. Only the teacher of the class and the graded "
                    "student see a grade; a parent sees their child's grades in the parent portal."
                ),
                retention=_(
                    "Until the school's grade retention period has passed since the class ended (see below), or "
                    "until the student's account is deleted."
                ),
            ),
            privacy.DataCategory(
                model="grading.GradeAudit",
                fields=(
                    "assignment",
                    "student",
                    "old_score",
                    "new_score",
                    "old_feedback",
                    "new_feedback",
                    "changed_by",
                    "changed_at",
                ),
                purpose=_("Keep a record of every grade change (who changed what, and when)."),
                retention=_("As long as the grade: deleted with it, or with the student's account."),
            ),
            privacy.DataCategory(
                model="grading.Enrollment",
                fields=("school_class", "student", "number"),
                purpose=_(
                    "Place a student in a teacher's class; the number replaces the name in pseudonymous reports."
                ),
                retention=_(
                    "Until the student leaves the class, the school's grade retention period has passed since the "
                    "class ended, or the account is deleted."
                ),
            ),
            privacy.DataCategory(
                model="grading.ClassJoinRequest",
                fields=("school_class", "student", "status", "created_at", "decided_at"),
                purpose=_(
                    "Let a student with their own account ask to join a class by its code; a child's request "
                    "waits for a parent's answer, and the school sees nothing of the child before it."
                ),
                retention=_("Until the student's account is deleted."),
            ),
            privacy.DataCategory(
                model="grading.GradeExport",
                fields=("teacher", "assignment", "format", "pseudonymous", "row_count", "created_at"),
                purpose=_(
                    "Log each grade report a teacher downloads, so that the teacher and the school can "
                    "account for every copy of students' grades."
                ),
                retention=_("Until the teacher's account or the assignment is deleted."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        grades = (
            Grade.objects.filter(student=user)
            .select_related("assignment", "assignment__school_class", "assignment__school_class__school")
            .order_by("assignment__due_date", "pk")
        )
        return {
            "classes": [
                {"class": e.school_class.name, "school": e.school_class.school.name, "student_number": e.number}
                for e in Enrollment.objects.filter(student=user).select_related("school_class__school").order_by("pk")
            ],
            "grades": [
                {
                    "class": g.assignment.school_class.name,
                    "school": g.assignment.school_class.school.name,
                    "assignment": g.assignment.title,
                    "due_date": g.assignment.due_date.isoformat(),
                    "score": str(g.score),
                    "max_score": str(g.assignment.max_score),
                    "feedback": g.feedback,
                    "graded_at": g.graded_at.isoformat(),
                }
                for g in grades
            ],
            "class_join_requests": [
                {
                    "class": r.school_class.name,
                    "school": r.school_class.school.name,
                    "status": r.status,
                    "asked_at": r.created_at.isoformat(),
                    "answered_at": r.decided_at.isoformat() if r.decided_at else None,
                }
                for r in ClassJoinRequest.objects.filter(student=user)
                .select_related("school_class__school")
                .order_by("pk")
            ],
            "classes_taught": [
                {"class": c.name, "school": c.school.name}
                for c in SchoolClass.objects.filter(teacher=user).select_related("school").order_by("pk")
            ],
            "grade_report_downloads": [
                {
                    "assignment": x.assignment.title,
                    "format": x.format,
                    "pseudonymous": x.pseudonymous,
                    "rows": x.row_count,
                    "downloaded_at": x.created_at.isoformat(),
                }
                for x in GradeExport.objects.filter(teacher=user).select_related("assignment").order_by("pk")
            ],
        }

    def summary(self, user: User) -> dict[str, Any]:
        grades = Grade.objects.filter(student_id=user.pk)
        return {
            "classes": privacy.Count(Enrollment.objects.filter(student_id=user.pk)),
            "grades": privacy.Count(grades),
            "latest_grades": privacy.Rows(
                grades.order_by("-graded_at", "-pk").values(
                    "assignment__title",
                    "assignment__school_class__name",
                    "score",
                    "assignment__max_score",
                    "feedback",
                    "graded_at",
                ),
                limit=LATEST_GRADES_SHOWN,
            ),
            "classes_taught": privacy.Count(SchoolClass.objects.filter(teacher_id=user.pk)),
            "grade_report_downloads": privacy.Count(GradeExport.objects.filter(teacher_id=user.pk)),
        }

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="grading.past_class_grades",
                description=_("Grades of a school's past classes"),
                period=SCHOOL_PERIOD,
                expired=retention.past_class_grades_expired,
            ),
            privacy.RetentionRule(
                name="grading.past_class_grade_changes",
                description=_("The history of changes to those grades"),
                period=SCHOOL_PERIOD,
                expired=retention.past_class_grade_changes_expired,
            ),
            privacy.RetentionRule(
                name="grading.past_class_enrollments",
                description=_("The list of students of those classes (with their numbers in pseudonymous reports)"),
                period=SCHOOL_PERIOD,
                expired=retention.past_class_enrollments_expired,
            ),
        ]

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        return [
            *privacy.delete(Grade.objects.filter(student_id=user.pk)),
            *privacy.delete(GradeAudit.objects.filter(student_id=user.pk)),
            *privacy.delete(Enrollment.objects.filter(student_id=user.pk)),
            *privacy.delete(ClassJoinRequest.objects.filter(student_id=user.pk)),
            *privacy.delete(GradeExport.objects.filter(teacher_id=user.pk)),
            *privacy.delete(ReportNoticeAcknowledgement.objects.filter(teacher_id=user.pk)),
            # The school keeps its classes (and the students' grades in them); they lose their teacher.
            *privacy.update(SchoolClass.objects.filter(teacher_id=user.pk), teacher=None),
        ]
