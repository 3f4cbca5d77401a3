"""Staff admin for classes (schools are in the schools app), and the privacy officer's read-only view of grades.

Grades are private to the class's teacher and the graded student. Staff see one only through the explicit
privacy-officer role (a superuser without it does not), and every grade opened is written to the staff
access log (privacy.audit wraps the admin of each model the registry declares). The grade list shows no
score, feedback or student; the grade audit is not in the admin at all."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from mindomo.admin import ReadOnlyAdmin
from mindomo.roles import PRIVACY_OFFICER_GROUP

from .models import Grade, GradeExport, SchoolClass


@admin.register(SchoolClass)
class SchoolClassAdmin(admin.ModelAdmin):
    list_display = ("name", "school", "teacher", "created_at")
    search_fields = ("name", "school__name")
    raw_id_fields = ("school", "teacher")


@admin.register(GradeExport)
class GradeExportAdmin(ReadOnlyAdmin):
    list_display = ("teacher", "assignment", "format", "pseudonymous", "row_count", "created_at")
    list_filter = ("format", "pseudonymous")


def is_privacy_officer(user: Any) -> bool:
    return bool(user.is_active and user.is_staff and user.groups.filter(name=PRIVACY_OFFICER_GROUP).exists())


@admin.register(Grade)
class GradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "assignment", "graded_at")
    search_fields = ("=student__username",)
    search_help_text = "Exact username of the student (a data request); opening a grade is logged."
    fields = ("assignment", "student", "score", "feedback", "graded_by", "graded_at")
    readonly_fields = fields
    show_full_result_count = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return super().has_view_permission(request, obj)
        # One grade: only through the privacy-officer role, whatever other powers the person has.
        return is_privacy_officer(request.user) and super().has_view_permission(request, obj)
