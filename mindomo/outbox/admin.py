from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from mindomo.admin import ReadOnlyAdmin

from . import services
from .models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    # What staff look for first (who, and did it go out, and if not, why) before the rest, so a narrow screen
    # shows it without scrolling sideways.
    list_display = ("to_email", "status", "error_short", "kind", "created_at", "attempts")
    list_filter = ("status", "kind")
    search_fields = ("to_email", "kind", "reference")
    date_hierarchy = "created_at"
    actions = ["retry"]
    fields = (
        "kind",
        "status",
        "to_email",
        "from_email",
        "subject",
        "language",
        "created_at",
        "due_at",
        "expires_at",
        "next_attempt_at",
        "attempts",
        "sent_at",
        "failed_at",
        "error",
        "text_body",
    )

    @admin.display(description=_("server's answer"))
    def error_short(self, obj: Delivery) -> str:
        return obj.error[:80] + ("…" if len(obj.error) > 80 else "")

    @admin.action(description=_("Send the selected failed emails again"), permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        retried = sum(services.delivery_retry(delivery_id=pk) for pk in queryset.values_list("pk", flat=True))
        skipped = queryset.count() - retried
        self.message_user(
            request,
            ngettext("%(count)d email will be sent again.", "%(count)d emails will be sent again.", retried)
            % {"count": retried},
            messages.SUCCESS,
        )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d email was not sent again: only failed or cancelled emails can be.",
                    "%(count)d emails were not sent again: only failed or cancelled emails can be.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("outbox.retry_delivery")
