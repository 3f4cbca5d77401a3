"""Invoices in bulk, prepared off the request (mindomo.downloads): one zip of PDFs, drawn by a Celery job while the
page shows its progress (each PDF is milliseconds of reportlab; a year of a buyer's invoices, or a quarter of every
buyer's for the accountant, would be seconds in a request).

- **Your invoices** (``MY_INVOICES``): an account holder's own invoices and credit notes, all or one tax year.
- **Invoices of a period** (``PERIOD_INVOICES``): every invoice and credit note issued in a period, for a staff
  member with the billing role (``billing.view_invoice``: the billing clerk), for the accountant or an audit.

Both read invoices within their retention only (an invoice past ``INVOICE_RETENTION_YEARS`` is left out even before
the monthly purge deletes it) and draw each PDF as the single download does, in the language of the person who
asked (``PreparedFile.language``)."""

from __future__ import annotations

import datetime
import zipfile
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mindomo import audit
from mindomo.downloads import registry
from mindomo.downloads.models import PreparedFile
from mindomo.downloads.services import prepared_file_request

from . import selectors, services
from .models import Invoice
from .pdf import invoice_pdf

MY_INVOICES = "billing.my_invoices"
PERIOD_INVOICES = "billing.period_invoices"
STAFF_PERMISSION = "billing.view_invoice"
# the progress is written after every this many PDFs
PDFS_PER_PART = 10


def my_invoices(*, user: Any, year: int | None) -> QuerySet[Invoice]:
    """The account holder's invoices in the zip: their own (the one protected read), within retention."""
    invoices = selectors.invoice_list_retained(selectors.invoice_list_visible_to(viewer=user))
    return invoices.filter(year=year) if year is not None else invoices


def period_invoices(*, start: datetime.date, end: datetime.date) -> QuerySet[Invoice]:
    """Every invoice and credit note issued from ``start`` to ``end`` (both included, the site's time zone), within
    retention, in number order."""
    return selectors.invoice_list_retained(
        Invoice.objects.filter(issued_at__date__gte=start, issued_at__date__lte=end)
    ).order_by("series", "year", "sequence")


def staff_may_download(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(STAFF_PERMISSION))


def my_invoices_request(*, user: Any, year: int | None, count: int) -> PreparedFile:
    return prepared_file_request(
        kind=MY_INVOICES,
        user=user,
        params={"year": year},
        download_name=f"invoices-{year if year is not None else 'all'}.zip",
        content_type="application/zip",
        parts_total=count,
    )


@transaction.atomic
def period_invoices_request(*, user: Any, start: datetime.date, end: datetime.date, count: int) -> PreparedFile:
    """A billing clerk asks for the invoices of a period: the job, and an audit row naming who asked (BillingEvent)."""
    services.invoices_download_record(actor=user, start=start, end=end, count=count)
    return prepared_file_request(
        kind=PERIOD_INVOICES,
        user=user,
        params={"start": start.isoformat(), "end": end.isoformat()},
        download_name=f"invoices-{start.isoformat()}-{end.isoformat()}.zip",
        content_type="application/zip",
        parts_total=count,
    )


def _zip_pdfs(
    invoices: QuerySet[Invoice], language: str, handle: IO[bytes], progress: registry.Progress
) -> list[Invoice]:
    """One PDF per invoice, named by its number, into a zip written to ``handle``; returns the invoices written."""
    rows = list(invoices)
    if not rows:
        raise ValidationError(gettext("There are no invoices to download."))
    total = len(rows)
    with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for done, invoice in enumerate(rows, start=1):
            info = zipfile.ZipInfo(f"{invoice.number}.pdf", date_time=invoice.issued_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, invoice_pdf(invoice, language=language))
            if done % PDFS_PER_PART == 0 or done == total:
                progress(done, total)
    return rows


def _my_build(prepared: PreparedFile, handle: IO[bytes], progress: registry.Progress) -> None:
    if prepared.user is None:
        raise ValidationError(gettext("There are no invoices to download."))
    invoices = my_invoices(user=prepared.user, year=prepared.params.get("year")).order_by("issued_at", "pk")
    _zip_pdfs(invoices, prepared.language, handle, progress)


def _my_allowed(request: HttpRequest, prepared: PreparedFile) -> bool:
    """Only the account holder who asked."""
    user: Any = request.user
    return bool(user.is_authenticated and prepared.user_id == user.pk)


def _period_build(prepared: PreparedFile, handle: IO[bytes], progress: registry.Progress) -> None:
    if prepared.user is None or not staff_may_download(prepared.user):
        raise ValidationError(gettext("You no longer have the billing role."))
    start = datetime.date.fromisoformat(prepared.params["start"])
    end = datetime.date.fromisoformat(prepared.params["end"])
    written = _zip_pdfs(period_invoices(start=start, end=end), prepared.language, handle, progress)
    # each buyer's invoice the clerk takes away is in the access log, as a look in the admin would be
    audit.staff_accessed_record(
        staff=prepared.user,
        action=audit.EXPORT,
        model=Invoice._meta.label,
        rows=[(invoice.pk, invoice.user_id) for invoice in written],
    )


def _period_allowed(request: HttpRequest, prepared: PreparedFile) -> bool:
    """Only the staff member who asked, while they still have the billing role."""
    user: Any = request.user
    return bool(prepared.user_id == user.pk and staff_may_download(user))


def _my_back(prepared: PreparedFile) -> str:
    return reverse("billing:invoice_list")


def _period_back(prepared: PreparedFile) -> str:
    return reverse("billing:invoice_period")


def register() -> None:
    registry.register(
        registry.Kind(
            name=MY_INVOICES,
            build=_my_build,
            allowed=_my_allowed,
            back_url=_my_back,
            title=_("Your invoices (zip of PDFs)"),
        )
    )
    registry.register(
        registry.Kind(
            name=PERIOD_INVOICES,
            build=_period_build,
            allowed=_period_allowed,
            back_url=_period_back,
            title=_("Invoices of a period (zip of PDFs)"),
        )
    )
