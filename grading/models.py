"""Classes, enrollments, assignments and private grades; the audit of grade changes and of report exports.

Schools and the people in them (memberships, registered students, invitations) live in the schools app.
Grades are read only through ``grading.selectors.grade_list_visible_to(viewer=...)``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from schools.models import School


class SchoolClass(models.Model):
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="classes")
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="taught_classes",
        verbose_name=_("teacher"),
    )
    name = models.CharField(_("name"), max_length=120)
    roster_sourced_id = models.CharField(
        _("OneRoster sourcedId"), max_length=255, blank=True, help_text=_("Empty for a class a teacher created.")
    )
    # The last day of the class (its term): its grades are deleted the school's grade_retention_months later
    # (grading.privacy's retention rules). Empty while the teacher has not said; "archive" sets it to today.
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # What a student with their own account types to ask to join (grading.services.class_join); the teacher
    # can replace it at any time. Letters without the ones people confuse (0/O, 1/I/L).
    join_code = models.CharField(_("class code"), max_length=12, unique=True, null=True, blank=True)

    class Meta:
        verbose_name = _("class")
        verbose_name_plural = _("classes")
        ordering = ["name", "pk"]
        indexes = [
            models.Index(
                fields=["ends_on", "school"], condition=models.Q(ends_on__isnull=False), name="grading_class_ended"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "roster_sourced_id"],
                condition=~models.Q(roster_sourced_id=""),
                name="grading_class_roster_sourced_id_unique",
            ),
            models.UniqueConstraint(
                fields=["school", "teacher", "name"],
                name="grading_class_unique_name_per_teacher",
                violation_error_message=_("You already have a class with this name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    """A student in a class. ``number`` is the student's pseudonym in pseudonymous reports."""

    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="enrollments")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    number = models.PositiveIntegerField(_("student number"))
    created_at = models.DateTimeField(_("enrolled at"), auto_now_add=True)

    class Meta:
        verbose_name = _("enrollment")
        verbose_name_plural = _("enrollments")
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["school_class", "student"], name="grading_enrollment_unique_student"),
            models.UniqueConstraint(fields=["school_class", "number"], name="grading_enrollment_unique_number"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="grading_enrollment_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.student} · {self.school_class}"


class Assignment(models.Model):
    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="assignments")
    title = models.CharField(_("title"), max_length=200)
    due_date = models.DateField(_("due date"))
    max_score = models.DecimalField(
        _("maximum score"), max_digits=6, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["due_date", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(max_score__gt=0), name="grading_assignment_max_score_positive"),
        ]

    def __str__(self) -> str:
        return self.title


class Grade(models.Model):
    """A student's score on an assignment. Visible only to the class's teacher and to the student."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="grades")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grades")
    score = models.DecimalField(_("score"), max_digits=6, decimal_places=2)
    feedback = models.TextField(_("feedback"), max_length=2000, blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    graded_at = models.DateTimeField(_("graded at"))

    class Meta:
        verbose_name = _("grade")
        verbose_name_plural = _("grades")
        constraints = [
            models.UniqueConstraint(fields=["assignment", "student"], name="grading_grade_unique_student"),
            models.CheckConstraint(condition=models.Q(score__gte=0), name="grading_grade_score_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.assignment} · {self.student}"


class GradeAudit(models.Model):
    """One row per grade change (never updated; deleted only with the student's data)."""

    class Action(models.TextChoices):
        CREATED = "created", _("Graded")
        UPDATED = "updated", _("Changed")
        CLEARED = "cleared", _("Cleared")

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="grade_audits")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grade_audits")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    old_score = models.DecimalField(_("old score"), max_digits=6, decimal_places=2, null=True, blank=True)
    new_score = models.DecimalField(_("new score"), max_digits=6, decimal_places=2, null=True, blank=True)
    old_feedback = models.TextField(_("old feedback"), blank=True)
    new_feedback = models.TextField(_("new feedback"), blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("grade change")
        verbose_name_plural = _("grade changes")
        ordering = ["changed_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=["created", "updated", "cleared"]), name="grading_audit_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} · {self.assignment} · {self.student}"


class ReportNoticeAcknowledgement(models.Model):
    """A teacher acknowledged the privacy notice about grade reports (COPPA, FERPA, GDPR)."""

    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notice_version = models.PositiveSmallIntegerField(_("notice version"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("report notice acknowledgement")
        verbose_name_plural = _("report notice acknowledgements")
        constraints = [
            models.UniqueConstraint(fields=["teacher", "notice_version"], name="grading_notice_ack_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.teacher} · v{self.notice_version}"


class GradeExport(models.Model):
    """One grade report download: who, when, which assignment, how many rows."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grade_exports")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    pseudonymous = models.BooleanField(_("pseudonymous"), default=False)
    row_count = models.PositiveIntegerField(_("rows"))
    created_at = models.DateTimeField(_("downloaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("grade report download")
        verbose_name_plural = _("grade report downloads")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(format__in=["csv", "xlsx"]), name="grading_export_format_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.teacher} · {self.assignment} · {self.format}"


class ClassJoinRequest(models.Model):
    """A student with their own account asked to join a class by its code. A child's request waits for a parent's
    answer from an emailed link (the consent ledger records it); the school sees nothing of the child before."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting for a parent's approval")
        JOINED = "joined", _("Joined")
        DECLINED = "declined", _("Declined by a parent")

    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="join_requests")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="class_join_requests")
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.WAITING)
    created_at = models.DateTimeField(_("asked at"))
    decided_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("request to join a class")
        verbose_name_plural = _("requests to join a class")
        constraints = [
            models.UniqueConstraint(fields=["school_class", "student"], name="grading_join_request_once"),
        ]

    def __str__(self) -> str:
        return f"{self.student_id} → {self.school_class_id} ({self.status})"
