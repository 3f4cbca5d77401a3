"""Staff admin for schools, their members and their invitations to teachers."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from mindomo.admin import ReadOnlyAdmin

from . import signin
from .models import School, SchoolDomain, SchoolMembership, TeacherInvitation, TeacherJoinRequest


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


@admin.register(TeacherJoinRequest)
class TeacherJoinRequestAdmin(ReadOnlyAdmin):
    """Who asked to join which school as a teacher and what its administrators answered (support answers "where
    is my request?"); only the school's administrators approve or decline, on the school's page."""

    list_display = ("email", "first_name", "last_name", "school", "status", "created_at", "answered_at")
    list_filter = ("status",)
    search_fields = ("email", "school__name")
    raw_id_fields = ("school", "answered_by", "teacher")


@admin.register(SchoolDomain)
class SchoolDomainAdmin(admin.ModelAdmin):
    """An operator confirms a school's domain once its DNS holds the TXT value shown here."""

    list_display = ("domain", "school", "provider", "tenant_id", "txt_value", "verified_at", "verified_how")
    list_filter = ("provider", "verified_how")
    search_fields = ("domain", "school__name")
    readonly_fields = ("txt_value", "verified_at", "verified_how")
    raw_id_fields = ("school",)
    actions = ["confirm_dns"]

    @admin.display(description=_("DNS TXT value"))
    def txt_value(self, obj: SchoolDomain) -> str:
        return signin.txt_value(obj)

    @admin.action(description=_("Confirm: the domain's DNS holds its TXT value"))
    def confirm_dns(self, request: HttpRequest, queryset: QuerySet[SchoolDomain]) -> None:
        for domain in queryset:
            signin.domain_verify(domain=domain, how="dns")
        messages.success(request, _("The selected domains are verified."))
