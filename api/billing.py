"""Billing reads: plans, a buyer's orders and invoices (PDF). Never card data beyond what an order keeps (brand,
last 4 digits): payment stays in the providers' hosted fields, on the website."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from ninja import Field, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from billing import selectors
from billing.pdf import invoice_pdf as render_pdf

from . import errors
from .auth import user_of
from .errors import responses

router = Router(tags=["billing"])


class PlanOut(Schema):
    id: int
    name: str
    description: str
    price: str = Field(description="Excluding VAT, a decimal string")
    currency: str
    duration_days: int


@router.get("/billing/plans/", response=responses(list[PlanOut]), auth=None, operation_id="plans_list")
@paginate(PageNumberPagination, page_size=50)
def plans_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "id": plan.pk,
            "name": plan.name,
            "description": plan.description_display,
            "price": str(plan.price),
            "currency": plan.currency,
            "duration_days": plan.duration_days,
        }
        for plan in selectors.plan_list_on_sale()
    ]


class OrderOut(Schema):
    reference: uuid.UUID
    plan: str
    status: str
    currency: str
    net_amount: str
    vat_amount: str
    total: str
    card_brand: str
    card_last4: str
    created_at: datetime.datetime
    paid_at: datetime.datetime | None


@router.get("/billing/orders/", response=responses(list[OrderOut]), operation_id="orders_list")
@paginate(PageNumberPagination, page_size=50)
def orders_list(request: HttpRequest) -> list[dict[str, Any]]:
    orders = selectors.order_list_visible_to(viewer=user_of(request)).order_by("-created_at", "-pk")
    return [
        {
            "reference": o.reference,
            "plan": o.plan.name,
            "status": o.status,
            "currency": o.currency,
            "net_amount": str(o.net_amount),
            "vat_amount": str(o.vat_amount),
            "total": str(o.total),
            "card_brand": o.card_brand,
            "card_last4": o.card_last4,
            "created_at": o.created_at,
            "paid_at": o.paid_at,
        }
        for o in orders[:1000]
    ]


class InvoiceOut(Schema):
    number: str
    kind: str
    issued_at: datetime.datetime
    currency: str
    net_amount: str
    vat_amount: str
    total: str
    credited_invoice_number: str
    pdf_url: str


@router.get("/billing/invoices/", response=responses(list[InvoiceOut]), operation_id="invoices_list")
@paginate(PageNumberPagination, page_size=50)
def invoices_list(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "number": i.number,
            "kind": i.kind,
            "issued_at": i.issued_at,
            "currency": i.currency,
            "net_amount": str(i.net_amount),
            "vat_amount": str(i.vat_amount),
            "total": str(i.total),
            "credited_invoice_number": i.credited_invoice_number,
            "pdf_url": f"/api/v1/billing/invoices/{i.number}/pdf/",
        }
        for i in selectors.invoice_list_visible_to(viewer=user_of(request))[:1000]
    ]


@router.get(
    "/billing/invoices/{number}/pdf/",
    response=errors.error_responses(),
    operation_id="invoice_pdf",
    openapi_extra={"responses": {"200": {"description": "The PDF", "content": {"application/pdf": {}}}}},
)
def invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    invoice = get_object_or_404(selectors.invoice_list_visible_to(viewer=user_of(request)), number=number[:64])
    response = HttpResponse(render_pdf(invoice, language=get_language()), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response
