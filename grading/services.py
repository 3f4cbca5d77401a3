"""Writes on classes, assignments and grades. Every grade change writes an audit row in the same transaction.

School-side writes on people (teacher invitations, student registration, login cards, removal) live in
``schools.services``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from schools.models import School, SchoolMembership

from .models import (
    Assignment,
    Enrollment,
    Grade,
    GradeAudit,
    GradeExport,
    ReportNoticeAcknowledgement,
    SchoolClass,
)

# Bump when the text of the grade-report privacy notice changes: teachers acknowledge it again.
REPORT_NOTICE_VERSION = 1


def _require_teacher(*, teacher: User, school: School) -> None:
    if not SchoolMembership.objects.filter(school=school, user=teacher, role=SchoolMembership.Role.TEACHER).exists():
        raise ValidationError(_("Only a teacher of this school can do this."))


@transaction.atomic
def class_create(*, teacher: User, school: School, name: str) -> SchoolClass:
    _require_teacher(teacher=teacher, school=school)
    name = name.strip()
    if not name:
        raise ValidationError(_("Give the class a name."))
    if SchoolClass.objects.filter(school=school, teacher=teacher, name=name).exists():
        raise ValidationError(_("You already have a class with this name."))
    return SchoolClass.objects.create(school=school, teacher=teacher, name=name)


@transaction.atomic
def class_enroll_students(*, teacher: User, school_class: SchoolClass, student_ids: Iterable[int]) -> int:
    """Enroll students of the class's school; already-enrolled students are skipped. Returns how many joined."""
    if school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can enroll students."))
    _require_teacher(teacher=teacher, school=school_class.school)
    wanted = set(student_ids)
    valid = set(
        SchoolMembership.objects.filter(
            school_id=school_class.school_id, role=SchoolMembership.Role.STUDENT, user_id__in=wanted
        ).values_list("user_id", flat=True)
    )
    if wanted - valid:
        raise ValidationError(_("Only students of this school can be enrolled."))
    # Lock the class so that concurrent enrollments number students without gaps or clashes.
    SchoolClass.objects.select_for_update().filter(pk=school_class.pk).get()
    already = set(
        Enrollment.objects.filter(school_class=school_class, student_id__in=valid).values_list("student_id", flat=True)
    )
    top = Enrollment.objects.filter(school_class=school_class).aggregate(top=Max("number"))["top"] or 0
    new = sorted(valid - already)
    Enrollment.objects.bulk_create(
        [Enrollment(school_class=school_class, student_id=sid, number=top + i) for i, sid in enumerate(new, start=1)]
    )
    return len(new)


@transaction.atomic
def assignment_create(
    *, teacher: User, school_class: SchoolClass, title: str, due_date: datetime.date, max_score: Decimal
) -> Assignment:
    if school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can add assignments."))
    _require_teacher(teacher=teacher, school=school_class.school)
    if max_score <= 0:
        raise ValidationError(_("The maximum score must be greater than zero."))
    return Assignment.objects.create(
        school_class=school_class, title=title.strip(), due_date=due_date, max_score=max_score
    )


@dataclass(frozen=True)
class GradeEntry:
    """One cell of the gradebook: ``score`` None means "no grade" (clears an existing one)."""

    student_id: int
    assignment_id: int
    score: Decimal | None
    feedback: str = ""


@dataclass(frozen=True)
class GradeSaveResult:
    created: int
    updated: int
    cleared: int


def _grade_entries_check(entries: list[GradeEntry], *, assignments: dict[int, Assignment], enrolled: set[int]) -> None:
    """Every entry belongs to the class; every score and feedback fits (all errors at once, nothing saved)."""
    errors: list[str] = []
    for entry in entries:
        assignment = assignments.get(entry.assignment_id)
        if assignment is None or entry.student_id not in enrolled:
            raise ValidationError(_("The grade does not belong to this class."))
        if entry.score is not None and not (0 <= entry.score <= assignment.max_score):
            errors.append(
                _("%(assignment)s: a score must be between 0 and %(max)s.")
                % {"assignment": assignment.title, "max": assignment.max_score}
            )
        if len(entry.feedback) > 2000:
            errors.append(
                _("%(assignment)s: feedback is limited to 2000 characters.") % {"assignment": assignment.title}
            )
    if errors:
        raise ValidationError(sorted(set(errors)))


@transaction.atomic
def grades_save(*, teacher: User, school_class: SchoolClass, entries: Iterable[GradeEntry]) -> GradeSaveResult:
    """Save a column or the whole grid in a constant number of queries; one audit row per change."""
    if school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can grade it."))
    _require_teacher(teacher=teacher, school=school_class.school)
    entries = list(entries)
    assignments = {a.pk: a for a in Assignment.objects.filter(school_class=school_class)}
    enrolled = set(Enrollment.objects.filter(school_class=school_class).values_list("student_id", flat=True))
    _grade_entries_check(entries, assignments=assignments, enrolled=enrolled)

    existing = {
        (g.student_id, g.assignment_id): g
        for g in Grade.objects.select_for_update().filter(assignment_id__in=assignments, student_id__in=enrolled)
    }
    now = timezone.now()
    to_create: list[Grade] = []
    to_update: list[Grade] = []
    to_delete: list[int] = []
    audits: list[GradeAudit] = []
    for entry in entries:
        grade = existing.get((entry.student_id, entry.assignment_id))
        feedback = entry.feedback.strip()
        base = {
            "assignment_id": entry.assignment_id,
            "student_id": entry.student_id,
            "changed_by": teacher,
            "changed_at": now,
        }
        if grade is None:
            if entry.score is None:
                continue
            to_create.append(
                Grade(
                    assignment_id=entry.assignment_id,
                    student_id=entry.student_id,
                    score=entry.score,
                    feedback=feedback,
                    graded_by=teacher,
                    graded_at=now,
                )
            )
            audits.append(
                GradeAudit(action=GradeAudit.Action.CREATED, new_score=entry.score, new_feedback=feedback, **base)
            )
        elif entry.score is None:
            to_delete.append(grade.pk)
            audits.append(
                GradeAudit(action=GradeAudit.Action.CLEARED, old_score=grade.score, old_feedback=grade.feedback, **base)
            )
        elif grade.score != entry.score or grade.feedback != feedback:
            audits.append(
                GradeAudit(
                    action=GradeAudit.Action.UPDATED,
                    old_score=grade.score,
                    new_score=entry.score,
                    old_feedback=grade.feedback,
                    new_feedback=feedback,
                    **base,
                )
            )
            grade.score = entry.score
            grade.feedback = feedback
            grade.graded_by = teacher
            grade.graded_at = now
            to_update.append(grade)
    try:
        if to_create:
            Grade.objects.bulk_create(to_create)
    except IntegrityError as exc:  # another request graded the same cell a moment ago
        raise ValidationError(_("Someone else saved these grades at the same time. Reload and try again.")) from exc
    if to_update:
        Grade.objects.bulk_update(to_update, ["score", "feedback", "graded_by", "graded_at"])
    if to_delete:
        Grade.objects.filter(pk__in=to_delete).delete()
    if audits:
        GradeAudit.objects.bulk_create(audits)
    return GradeSaveResult(created=len(to_create), updated=len(to_update), cleared=len(to_delete))


@transaction.atomic
def report_notice_acknowledge(*, teacher: User) -> ReportNoticeAcknowledgement:
    ack, _created = ReportNoticeAcknowledgement.objects.get_or_create(
        teacher=teacher, notice_version=REPORT_NOTICE_VERSION
    )
    return ack


def report_notice_acknowledged(*, teacher: User) -> bool:
    return ReportNoticeAcknowledgement.objects.filter(teacher=teacher, notice_version=REPORT_NOTICE_VERSION).exists()


@transaction.atomic
def grade_export_log(
    *, teacher: User, assignment: Assignment, format: str, pseudonymous: bool, row_count: int
) -> GradeExport:
    if assignment.school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can download its grades."))
    if not report_notice_acknowledged(teacher=teacher):
        raise ValidationError(_("Read and acknowledge the privacy notice before downloading a grade report."))
    return GradeExport.objects.create(
        teacher=teacher, assignment=assignment, format=format, pseudonymous=pseudonymous, row_count=row_count
    )


def enrollments_end_at_school(*, school: School, student_id: int) -> None:
    """A student left the school's roster (``schools.hooks.student_left``): their enrolments in its classes end;
    their grades stay with the classes until the account is deleted."""
    Enrollment.objects.filter(student_id=student_id, school_class__school=school).delete()
