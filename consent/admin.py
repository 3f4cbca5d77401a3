from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from mindomo.admin import ReadOnlyAdmin
from mindomo.outbox.models import Delivery

from . import services
from .models import (
    AgeRule,
    ConsentRecord,
    LedgerCheckpoint,
    LedgerEntry,
    PendingSignup,
    SignedConsentForm,
    ThirdParty,
)


@admin.register(AgeRule)
class AgeRuleAdmin(admin.ModelAdmin):
    """Privacy staff edit the table; a change adds the next version and never alters decisions made."""

    list_display = ("jurisdiction", "age", "needs_legal_review", "version", "effective_from", "superseded_at")
    list_filter = ("needs_legal_review", ("superseded_at", admin.EmptyFieldListFilter))
    search_fields = ("country", "subdivision", "legal_source")
    fields = ("country", "subdivision", "age", "legal_source", "effective_from", "needs_legal_review", "version")

    def get_readonly_fields(self, request: HttpRequest, obj: AgeRule | None = None) -> tuple[str, ...]:
        return ("country", "subdivision", "version") if obj else ("version",)

    def has_change_permission(self, request: HttpRequest, obj: AgeRule | None = None) -> bool:
        if obj is not None and obj.superseded_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: AgeRule | None = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: AgeRule, form: Any, change: bool) -> None:
        values: dict[str, Any] = {
            "age": obj.age,
            "legal_source": obj.legal_source,
            "effective_from": obj.effective_from,
            "needs_legal_review": obj.needs_legal_review,
        }
        if change:
            new = services.age_rule_revise(rule=AgeRule.objects.get(pk=obj.pk), **values)
        else:
            new = services.age_rule_create(country=obj.country, subdivision=obj.subdivision, **values)
        obj.pk, obj.version = new.pk, new.version


@admin.register(ThirdParty)
class ThirdPartyAdmin(admin.ModelAdmin):
    list_display = ("name", "location", "integral")
    list_filter = ("integral",)


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ("child", "method", "school", "policy_version", "rule", "granted_at", "follow_up")
    list_filter = ("method", "policy_version")
    search_fields = ("child__username", "parent_email", "school__name")
    list_select_related = ("child", "school", "rule")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConsentRecord]:
        # The email-plus follow-up is an outbox delivery about the child: its state, in the same query.
        follow_up = Delivery.objects.filter(kind="consent.follow_up", user_id=OuterRef("child_id"))
        return (
            super()
            .get_queryset(request)
            .annotate(
                follow_up_status=Subquery(follow_up.values("status")[:1]),
                follow_up_at=Subquery(follow_up.values("sent_at")[:1]),
            )
        )

    @admin.display(description=_("email-plus follow-up"))
    def follow_up(self, obj: Any) -> str:
        if obj.follow_up_sent_at:  # the evidence, kept after the outbox's sent row is purged
            return _("sent %(date)s") % {"date": date_format(obj.follow_up_sent_at, "SHORT_DATETIME_FORMAT")}
        if obj.follow_up_status == Delivery.Status.SENT and obj.follow_up_at:
            return _("sent %(date)s") % {"date": date_format(obj.follow_up_at, "SHORT_DATETIME_FORMAT")}
        if obj.follow_up_status:
            return str(Delivery.Status(obj.follow_up_status).label)
        return "—"


@admin.register(PendingSignup)
class PendingSignupAdmin(ReadOnlyAdmin):
    """Sealed: staff see when a request expires, never who the child is."""

    list_display = ("public_id", "country", "rule", "created_at", "expires_at", "resend_count")
    fields = ("country", "rule", "consent_month", "created_at", "expires_at", "resend_count")
    list_select_related = ("rule",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    """The consent ledger: pseudonyms only; verify it with ``manage.py consent_verify_ledger``."""

    list_display = (
        "seq",
        "chain",
        "at",
        "kind",
        "subject",
        "actor",
        "method",
        "rule",
        "rule_version",
        "policy_version",
    )
    list_filter = ("kind", "method")
    search_fields = ("=subject", "=actor")


@admin.register(LedgerCheckpoint)
class LedgerCheckpointAdmin(ReadOnlyAdmin):
    """Signed checkpoints of every ledger chain's head (hourly); ``consent_verify_ledger`` checks them."""

    list_display = ("pk", "at")
    fields = ("at", "heads", "public_key", "signature")


@admin.register(SignedConsentForm)
class SignedConsentFormAdmin(ReadOnlyAdmin):
    """The desk's review of signed consent forms: a privacy officer opens the file and approves or rejects it
    (consent.verification.signed_form_review: the consent and its ledger event, and the parent's email)."""

    list_display = ("uploaded_at", "record", "third_party", "outcome", "reviewed_at", "open_file")
    list_filter = ("outcome",)
    actions = ["approve", "reject"]

    def get_urls(self) -> list[Any]:
        from django.urls import path

        return [
            path("<int:pk>/file/", self.admin_site.admin_view(self.file_view), name="consent_signedconsentform_file"),
            *super().get_urls(),
        ]

    @admin.display(description=_("signed form"))
    def open_file(self, obj: SignedConsentForm) -> str:
        from django.urls import reverse
        from django.utils.html import format_html

        return format_html(
            '<a href="{}">{}</a>', reverse("admin:consent_signedconsentform_file", args=[obj.pk]), _("Open")
        )

    def file_view(self, request: HttpRequest, pk: int) -> Any:
        """The uploaded file, to staff who may review forms only (never served from MEDIA_URL)."""
        from django.core.exceptions import PermissionDenied
        from django.http import FileResponse, Http404

        if not self.has_view_permission(request):
            raise PermissionDenied
        form = SignedConsentForm.objects.filter(pk=pk).first()
        if form is None or not form.file:
            raise Http404
        return FileResponse(form.file.open("rb"), as_attachment=True, filename=f"consent-form-{form.pk}")

    def _review(self, request: HttpRequest, queryset: QuerySet[SignedConsentForm], *, approve: bool) -> None:
        from django.contrib import messages
        from django.core.exceptions import PermissionDenied, ValidationError

        from .verification import signed_form_review

        if not request.user.has_perm("consent.change_signedconsentform"):
            raise PermissionDenied
        for form in queryset:
            try:
                signed_form_review(form=form, staff=request.user, approve=approve)
            except ValidationError as error:
                self.message_user(request, f"{form}: {error.messages[0]}", messages.WARNING)
            else:
                self.message_user(request, _("%(form)s: reviewed.") % {"form": form})

    @admin.action(description=_("Approve: the signed form proves the parent's consent"))
    def approve(self, request: HttpRequest, queryset: QuerySet[SignedConsentForm]) -> None:
        self._review(request, queryset, approve=True)

    @admin.action(description=_("Reject: nothing is recorded, the parent is told"))
    def reject(self, request: HttpRequest, queryset: QuerySet[SignedConsentForm]) -> None:
        self._review(request, queryset, approve=False)
