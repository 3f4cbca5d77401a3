"""Staff admin for schools and classes. Grades and their audit are deliberately NOT registered:
staff do not see grades (only the class's teacher and the graded student do)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import School, SchoolMembership

from .models import GradeExport, SchoolClass, TeacherInvitation


class MembershipInline(admin.TabularInline):
    model = SchoolMembership
    extra = 0
    raw_id_fields = ("user",)


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    list_display = ("name", "country", "contact_email", "created_at")
    search_fields = ("name", "contact_email")
    list_filter = ("country",)
    inlines = [MembershipInline]


@admin.register(SchoolMembership)
class SchoolMembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "school", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("user__username", "school__name")
    raw_id_fields = ("user", "school")


@admin.register(SchoolClass)
class SchoolClassAdmin(admin.ModelAdmin):
    list_display = ("name", "school", "teacher", "created_at")
    search_fields = ("name", "school__name")
    raw_id_fields = ("school", "teacher")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TeacherInvitation)
class TeacherInvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "school", "created_at", "expires_at", "accepted_at")
    search_fields = ("email", "school__name")


@admin.register(GradeExport)
class GradeExportAdmin(ReadOnlyAdmin):
    list_display = ("teacher", "assignment", "format", "pseudonymous", "row_count", "created_at")
    list_filter = ("format", "pseudonymous")
