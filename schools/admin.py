"""Staff admin for schools, their members and their invitations to teachers."""

from __future__ import annotations

from django.contrib import admin

from mindomo.admin import ReadOnlyAdmin

from .models import School, SchoolMembership, TeacherInvitation


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


@admin.register(TeacherInvitation)
class TeacherInvitationAdmin(ReadOnlyAdmin):
    list_display = ("email", "school", "created_at", "expires_at", "accepted_at")
    search_fields = ("email", "school__name")
