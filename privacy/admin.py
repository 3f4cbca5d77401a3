from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mindomo.admin import ReadOnlyAdmin

from . import selectors, services
from .models import (
    AccessLog,
    DisclosureRequest,
    DisclosureSubject,
    Notice,
    NoticeDelivery,
    PolicyAcceptance,
    PolicyReconsent,
    PolicyVersion,
)


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "staff_label", "action", "model", "object_id", "subject_id")
    list_filter = ("action", "model", ("at", admin.DateFieldListFilter))
    search_fields = ("staff_label", "model")
    date_hierarchy = "at"
    search_help_text = _(
        "The username or email of the person whose data was accessed, or of the staff member; or a user id."
    )
    change_list_template = "admin/privacy/accesslog/change_list.html"

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Any], search_term: str) -> Any:
        if not search_term.strip():
            return queryset, False
        return selectors.access_log_search(queryset, term=search_term), False

    def get_urls(self) -> list[Any]:
        from django.urls import path

        return [
            path("csv/", self.admin_site.admin_view(self.csv_view), name="privacy_accesslog_csv"),
            *super().get_urls(),
        ]

    def csv_view(self, request: HttpRequest) -> Any:
        """The entries the list shows (search, filters and dates applied), every page of them, as CSV."""
        from django.core.exceptions import PermissionDenied
        from django.http import StreamingHttpResponse

        if not self.has_view_permission(request):
            raise PermissionDenied
        from django.contrib.admin.options import IncorrectLookupParameters
        from django.core.exceptions import FieldError
        from django.http import HttpResponseRedirect
        from django.urls import reverse

        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
            queryset.exists()  # a filter the list does not know fails here, not halfway through the file
        except (IncorrectLookupParameters, FieldError, ValidationError, ValueError):
            return HttpResponseRedirect(reverse("admin:privacy_accesslog_changelist") + "?e=1")
        rows = selectors.access_log_csv_rows(queryset)
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="staff-access-log.csv"'
        return response


class DisclosureSubjectInline(admin.TabularInline):
    model = DisclosureSubject
    extra = 1
    fields = ("subject_id", "notified", "notified_on", "notice_withheld_reason")


@admin.register(DisclosureRequest)
class DisclosureRequestAdmin(admin.ModelAdmin):
    list_display = ("received_on", "authority", "kind", "outcome", "legal_basis")
    list_filter = ("kind", "outcome", "received_on")
    search_fields = ("authority", "legal_basis")
    inlines = [DisclosureSubjectInline]
    readonly_fields = ("recorded_by", "created_at")
    actions = ["transparency_report"]

    def save_model(self, request: HttpRequest, obj: DisclosureRequest, form: Any, change: bool) -> None:
        if not change:
            obj.recorded_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Transparency report of the selected requests (CSV)"))
    def transparency_report(self, request: HttpRequest, queryset: QuerySet[DisclosureRequest]) -> HttpResponse:
        response = HttpResponse(selectors.transparency_report_csv(queryset), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="transparency-report.csv"'
        return response


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("subject", "state", "created_at", "sent_at", "delivered", "failed", "pending", "unreached")
    readonly_fields = ("state", "created_by", "created_at", "sent_at", "unreached")
    actions = ["send"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notice]:
        from django.db.models import Count, Q

        return (
            super()
            .get_queryset(request)
            .annotate(
                # Since the outbox, a delivery's outcome is its email's (``email``); older rows kept their own.
                n_sent=Count(
                    "deliveries",
                    filter=Q(deliveries__state=NoticeDelivery.State.SENT) | Q(deliveries__email__status="sent"),
                ),
                n_failed=Count(
                    "deliveries",
                    filter=Q(deliveries__state=NoticeDelivery.State.FAILED)
                    | Q(deliveries__email__status__in=["failed", "cancelled"]),
                ),
                n_pending=Count(
                    "deliveries",
                    filter=Q(deliveries__state=NoticeDelivery.State.PENDING)
                    | Q(deliveries__email__status__in=["pending", "sending"]),
                ),
            )
        )

    @admin.display(description=_("delivered"))
    def delivered(self, obj: Any) -> int:
        return int(obj.n_sent)

    @admin.display(description=_("failed"))
    def failed(self, obj: Any) -> int:
        return int(obj.n_failed)

    @admin.display(description=_("pending"))
    def pending(self, obj: Any) -> int:
        return int(obj.n_pending)

    def has_change_permission(self, request: HttpRequest, obj: Notice | None = None) -> bool:
        return super().has_change_permission(request, obj) and (obj is None or obj.state == Notice.State.DRAFT)

    def save_model(self, request: HttpRequest, obj: Notice, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    @admin.action(
        description=_("Send the selected notices to every user (parents and schools for accounts without email)")
    )
    def send(self, request: HttpRequest, queryset: QuerySet[Notice]) -> None:
        for notice in queryset:
            try:
                count = services.notice_send(notice=notice)
            except ValidationError as error:
                self.message_user(request, f"{notice}: {error.messages[0]}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    ngettext(
                        "%(notice)s: queued for %(count)d recipient.",
                        "%(notice)s: queued for %(count)d recipients.",
                        count,
                    )
                    % {"notice": notice, "count": count},
                )


@admin.register(NoticeDelivery)
class NoticeDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("notice", "address", "via", "covers", "user_id", "state", "email_status", "attempts", "sent_at")
    list_filter = ("state", "via", "notice")
    search_fields = ("address",)
    list_select_related = ("notice", "email")

    @admin.display(description=_("email"))
    def email_status(self, obj: NoticeDelivery) -> str:
        if obj.email is None:
            return "—"
        answer = f": {obj.email.error[:120]}" if obj.email.error else ""
        return f"{obj.email.get_status_display()}{answer}"


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "effective_at", "material", "published_at")
    readonly_fields = ("published_at",)
    actions = ["publish"]

    def save_model(self, request: HttpRequest, obj: PolicyVersion, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            services.policy_publish(version=obj)

    @admin.action(description=_("Publish: ask parents to agree again after a material change, tell the schools"))
    def publish(self, request: HttpRequest, queryset: QuerySet[PolicyVersion]) -> None:
        for version in queryset:
            if services.policy_publish(version=version):
                self.message_user(request, _("%(version)s: published.") % {"version": version})
            else:
                self.message_user(
                    request, _("%(version)s: already published.") % {"version": version}, messages.WARNING
                )


@admin.register(PolicyReconsent)
class PolicyReconsentAdmin(ReadOnlyAdmin):
    list_display = ("version", "child_id", "asked_at", "reminded_at", "paused_at", "answered_at")
    list_filter = ("version", ("answered_at", admin.EmptyFieldListFilter), ("paused_at", admin.EmptyFieldListFilter))


@admin.register(PolicyAcceptance)
class PolicyAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ("user_id", "version", "accepted_at", "by_guardian")
    list_filter = ("version", "by_guardian")
    search_fields = ("=user__id",)


from . import desk_admin  # noqa: E402,F401  (the privacy desk: cases, person page, consent funnel)
