from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import ngettext

from .models import CookieConsent, PageViewCount


@admin.register(PageViewCount)
class PageViewCountAdmin(admin.ModelAdmin):
    """Read-only: the counts are written only by the page-view endpoint."""

    list_display = ("day", "path", "count")
    list_filter = ("day",)
    search_fields = ("path",)
    date_hierarchy = "day"
    ordering = ("-day", "-count", "path")
    list_per_page = 100

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            changelist = response.context_data.get("cl")
            if changelist is not None:
                total = changelist.queryset.aggregate(total=Sum("count"))["total"] or 0
                response.context_data["title"] = ngettext(
                    "Page-view counts (%(total)s view in this selection)",
                    "Page-view counts (%(total)s views in this selection)",
                    total,
                ) % {"total": total}
        return response


@admin.register(CookieConsent)
class CookieConsentAdmin(admin.ModelAdmin):
    """Read-only: a person changes their choice on the cookie settings page, never staff."""

    list_display = ("user", "choice", "decided_at")
    list_filter = ("choice",)
    raw_id_fields = ("user",)
    readonly_fields = ("user", "choice", "decided_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
