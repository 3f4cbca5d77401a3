"""Thin views: a form or a payload, one service or selector, a page or a redirect."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mindomo import audit

from . import downloads, selectors, services, vat
from .forms import BillingDetailsForm, BraintreePaymentForm, InvoicePeriodForm
from .gateways import GatewayError, InvalidSignature
from .gateways import braintree_gateway as braintree
from .models import Invoice, Order
from .pdf import invoice_pdf as render_pdf

logger = logging.getLogger(__name__)


def _refused(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/refused.html", status=403)


@require_GET
def plan_list(request: HttpRequest) -> HttpResponse:
    country = str(request.user.country) if request.user.is_authenticated and request.user.country else ""
    rate = vat.rate_for(country=country)  # one lookup for the whole page
    plans = [(plan, rate.apply(plan.price)) for plan in selectors.plan_list_on_sale()]
    return render(
        request,
        "billing/plan_list.html",
        {
            "plans": plans,
            "country": country,
            "may_purchase": selectors.purchase_allowed(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, plan_id: int) -> HttpResponse:
    plan = get_object_or_404(selectors.plan_list_on_sale(), pk=plan_id)
    if not selectors.purchase_allowed(request.user):
        return _refused(request)
    form = BillingDetailsForm(
        request.POST if request.method == "POST" else None,
        initial=selectors.last_billing_details(user=request.user),  # type: ignore[arg-type]
    )
    if request.method == "POST" and form.is_valid():
        try:
            order = services.order_create(user=request.user, plan=plan, **form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("billing:order_pay", reference=order.reference)
    return render(request, "billing/checkout.html", {"plan": plan, "form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def order_pay(request: HttpRequest, reference: str) -> HttpResponse:
    order = get_object_or_404(selectors.order_list_visible_to(viewer=request.user), reference=reference)
    if order.status != Order.Status.PENDING:
        invoice = order.invoices.filter(kind=Invoice.Kind.INVOICE).first()
        return redirect("billing:invoice_detail", number=invoice.number) if invoice else redirect("billing:plan_list")
    if not selectors.purchase_allowed(request.user):
        return _refused(request)
    form = BraintreePaymentForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                outcome = services.order_pay_braintree(
                    user=request.user,  # type: ignore[arg-type]
                    order_reference=str(order.reference),
                    nonce=form.cleaned_data["payment_method_nonce"],
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
                status = 400
            else:
                if outcome.invoice is not None:
                    messages.success(request, _("Thank you! Your payment was received and your invoice is ready."))
                    return redirect("billing:invoice_detail", number=outcome.invoice.number)
                messages.error(request, outcome.error)
                status = 402
        else:
            messages.error(request, _("The payment form was incomplete. Please enter your card again."))
            status = 400
    client_token = ""
    try:
        client_token = braintree.client_token()
    except GatewayError:
        logger.warning("braintree client token unavailable", exc_info=True)
    return render(
        request,
        "billing/pay.html",
        {
            "order": order,
            "form": form,
            "client_token": client_token,
            "dropin_template": settings.BILLING_DROPIN_TEMPLATE,
        },
        status=status,
    )


@login_required
@require_POST
def order_twocheckout(request: HttpRequest, reference: str) -> HttpResponse:
    order = get_object_or_404(selectors.order_list_visible_to(viewer=request.user), reference=reference)
    try:
        url = services.order_twocheckout_url(
            user=request.user,  # type: ignore[arg-type]
            order=order,
            return_url=request.build_absolute_uri(reverse("billing:order_status", args=[order.reference])),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("billing:order_pay", reference=order.reference)
    return redirect(url)


@login_required
@require_GET
def order_status(request: HttpRequest, reference: str) -> HttpResponse:
    """Where 2Checkout sends the buyer back: the invoice once its notification arrived, else a waiting page."""
    order = get_object_or_404(selectors.order_list_visible_to(viewer=request.user), reference=reference)
    invoice = order.invoices.filter(kind=Invoice.Kind.INVOICE).first()
    if invoice is not None:
        return redirect("billing:invoice_detail", number=invoice.number)
    return render(request, "billing/order_status.html", {"order": order})


@login_required
@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    invoices = selectors.invoice_list_visible_to(viewer=request.user)
    years = selectors.invoice_years(viewer=request.user)
    return render(request, "billing/invoice_list.html", {"invoices": invoices, "years": years})


@login_required
@require_POST
def invoice_zip(request: HttpRequest) -> HttpResponse:
    """The account holder asks for their invoices (all, or one tax year) as one zip of PDFs: a Celery job draws
    them (billing/downloads.py) and the page it leads to follows its progress, then offers the zip."""
    raw = request.POST.get("year", "")
    year = int(raw) if raw.isdigit() else None
    if raw and year not in selectors.invoice_years(viewer=request.user):
        year = -1  # a year without invoices of theirs (or not a year): nothing to prepare
    count = downloads.my_invoices(user=request.user, year=year).count()
    if not count:
        messages.error(request, _("There are no invoices to download."))
        return redirect("billing:invoice_list")
    prepared = downloads.my_invoices_request(user=request.user, year=year, count=count)
    return redirect("downloads:progress", public_id=prepared.public_id)


@login_required
@permission_required(downloads.STAFF_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "POST"])
def invoice_period(request: HttpRequest) -> HttpResponse:
    """A billing clerk downloads every invoice and credit note issued in a period (for the accountant, an audit)
    as one zip of PDFs, prepared by a job like the account holder's."""
    today = timezone.localdate()
    last_month_end = today.replace(day=1) - datetime.timedelta(days=1)
    form = InvoicePeriodForm(
        request.POST if request.method == "POST" else None,
        initial={"start": last_month_end.replace(day=1), "end": last_month_end},
    )
    if request.method == "POST" and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        count = downloads.period_invoices(start=start, end=end).count()
        if count:
            prepared = downloads.period_invoices_request(user=request.user, start=start, end=end, count=count)
            return redirect("downloads:progress", public_id=prepared.public_id)
        form.add_error(None, _("No invoices were issued in this period."))
    return render(request, "billing/invoice_period.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_GET
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    invoice = get_object_or_404(selectors.invoice_list_visible_to(viewer=request.user), number=number)
    return render(request, "billing/invoice_detail.html", {"invoice": invoice})


def _pdf_response(request: HttpRequest, invoice: Invoice) -> HttpResponse:
    response = HttpResponse(render_pdf(invoice, language=request.LANGUAGE_CODE), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def invoice_pdf(request: HttpRequest, number: str) -> HttpResponse:
    invoice = get_object_or_404(selectors.invoice_list_visible_to(viewer=request.user), number=number)
    return _pdf_response(request, invoice)


@login_required
@permission_required("billing.view_invoice", raise_exception=True)
@require_GET
def invoice_pdf_staff(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=pk)
    audit.staff_accessed_record(
        staff=request.user, action=audit.VIEW, model=Invoice._meta.label, rows=[(invoice.pk, invoice.user_id)]
    )
    return _pdf_response(request, invoice)


@csrf_exempt
@require_POST
def twocheckout_ipn(request: HttpRequest) -> HttpResponse:
    try:
        receipt = services.twocheckout_ipn_process(fields=list(request.POST.lists()))
    except InvalidSignature:
        return HttpResponseBadRequest(_("Invalid signature."), content_type="text/plain")
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(exc.messages), content_type="text/plain")
    return HttpResponse(receipt, content_type="text/plain")


@csrf_exempt
@require_POST
def braintree_webhook(request: HttpRequest) -> HttpResponse:
    signature = request.POST.get("bt_signature", "")
    payload = request.POST.get("bt_payload", "")
    if not signature or not payload:
        return HttpResponseBadRequest(_("Missing signature or payload."), content_type="text/plain")
    try:
        services.braintree_webhook_process(signature=signature, payload=payload)
    except InvalidSignature:
        return HttpResponseBadRequest(_("Invalid signature."), content_type="text/plain")
    return HttpResponse("ok", content_type="text/plain")
