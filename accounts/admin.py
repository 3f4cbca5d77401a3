from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .models import AccountDeletionRequest, DataExport, ErasureStep, SupportInquiry, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "country", "is_active", "is_staff")
    list_filter = ("country", "is_active", "is_staff", "groups")
    search_fields = ("username", "email", "first_name", "last_name")
    ordering = ("username",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "country", "product_updates")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    # Least privilege: staff who are not superusers (support, privacy officer) see and correct contact
    # details only; passwords, staff status, groups and permissions stay out of their view.
    limited_fieldsets = (
        (None, {"fields": ("username",)}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "country", "product_updates")}),
        (_("Status"), {"fields": ("is_active", "last_login", "date_joined")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and not request.user.is_superuser:
            return self.limited_fieldsets
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if not request.user.is_superuser:
            return ("username", "last_login", "date_joined")
        return super().get_readonly_fields(request, obj)

    def get_list_filter(self, request: HttpRequest) -> Any:
        if not request.user.is_superuser:
            return ("country", "is_active")
        return super().get_list_filter(request)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Staff suspend an account by clearing "active": every session of it ends, for good."""
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            services.user_sessions_end(user=obj)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """A password set here ends every other session of the account (the staff member's own stays)."""
        user = self.get_object(request, unquote(id))
        before = user.password if user is not None else None
        response = super().user_change_password(request, id, form_url)
        if user is not None:
            user.refresh_from_db(fields=["password"])
            if user.password != before:
                services.user_sessions_end(user=user, keep=request.session.session_key)
        return response


# --- Data subject rights: exports, deletions and their erasure steps, support inquiries ---


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Written only by services: staff look (and run the actions their change permission allows), never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: object | None = None) -> list[str]:
        return [f.name for f in self.model._meta.fields if f.name not in (self.exclude or ())]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        no_save = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **no_save})


@admin.register(DataExport)
class DataExportAdmin(_ReadOnlyAdmin):
    list_display = ("public_id", "user", "state", "parts_done", "parts_total", "requested_at", "expires_at")
    list_filter = ("state",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    # The archive itself is never offered to staff: only its owner downloads it.
    exclude = ("file_name",)


class ErasureStepInline(admin.TabularInline):
    model = ErasureStep
    fields = ("position", "provider", "state", "attempts", "error", "done_at", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object | None = None) -> bool:
        return False


@admin.register(AccountDeletionRequest)
class AccountDeletionRequestAdmin(_ReadOnlyAdmin):
    list_display = (
        "reference",
        "state",
        "reason",
        "requested_at",
        "erase_after",
        "attempts",
        "last_attempt_at",
        "erased_at",
    )
    list_filter = ("state",)
    search_fields = ("reference",)
    raw_id_fields = ("user",)
    inlines = [ErasureStepInline]
    actions = ["retry_erasure"]

    @admin.action(description=_("Retry the erasure now (failed requests)"), permissions=["change"])
    def retry_erasure(self, request: HttpRequest, queryset: QuerySet[AccountDeletionRequest]) -> None:
        queued = 0
        for deletion in queryset.filter(state=AccountDeletionRequest.State.FAILED):
            try:
                services.account_erasure_retry(request_id=deletion.pk)
            except ValidationError as error:  # changed state meanwhile
                self.message_user(request, error.messages[0], messages.WARNING)
            else:
                queued += 1
        self.message_user(
            request,
            ngettext("%(count)d erasure queued for another run.", "%(count)d erasures queued for another run.", queued)
            % {"count": queued},
        )


@admin.register(SupportInquiry)
class SupportInquiryAdmin(_ReadOnlyAdmin):
    list_display = ("created_at", "topic", "name", "email", "handled_at")
    list_filter = ("topic", "handled_at")
    search_fields = ("email", "name")
    raw_id_fields = ("user",)
    actions = ["mark_handled"]

    @admin.action(description=_("Mark as handled"), permissions=["change"])
    def mark_handled(self, request: HttpRequest, queryset: QuerySet[SupportInquiry]) -> None:
        count = services.support_inquiries_mark_handled(inquiry_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(count)d inquiry marked as handled.", "%(count)d inquiries marked as handled.", count)
            % {"count": count},
        )
