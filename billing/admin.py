"""Staff views. Orders, invoices and audit rows are read-only; refunds are an action of the billing clerk."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from mindomo.admin import ReadOnlyAdmin

from . import services
from .models import BillingEvent, Invoice, Order, Plan, VatRate


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "price", "currency", "duration_days", "is_active"]
    list_filter = ["is_active", "currency"]


@admin.register(VatRate)
class VatRateAdmin(admin.ModelAdmin):
    list_display = ["country", "rate"]


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ["reference", "created_at", "plan", "status", "gateway", "total", "currency", "dispute_status"]
    list_filter = ["status", "gateway", "currency"]
    list_select_related = ["plan"]
    search_fields = ["reference", "gateway_transaction_id"]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "issued_at", "billing_full_name", "total", "currency", "gateway", "pdf_link"]
    list_filter = ["kind", "year", "gateway"]
    search_fields = ["number", "billing_full_name", "buyer_email"]
    actions = ["refund"]
    exclude = ["seller", "lines"]

    @admin.display(description=_("PDF"))
    def pdf_link(self, obj: Invoice) -> str:
        return format_html('<a href="{}">{}</a>', reverse("billing:invoice_pdf_staff", args=[obj.pk]), _("PDF"))

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.refund_invoice")

    @admin.action(description=_("Refund (issues a credit note)"), permissions=["refund"])
    def refund(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        for invoice in queryset.order_by("pk"):
            try:
                credit = services.invoice_refund(invoice_id=invoice.pk, actor=request.user)  # type: ignore[arg-type]
            except ValidationError as exc:
                self.message_user(request, f"{invoice.number}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    _("%(invoice)s refunded: credit note %(credit)s issued.")
                    % {"invoice": invoice.number, "credit": credit.number},
                    messages.SUCCESS,
                )
        return None


@admin.register(BillingEvent)
class BillingEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "order_reference", "invoice_number", "actor", "detail"]
    list_filter = ["kind"]
