"""An invoice or credit note as a PDF, drawn with reportlab from the invoice's snapshot."""

from __future__ import annotations

import io
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.utils import formats
from django.utils.translation import gettext as _
from django_countries import countries
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from mindomo.formats import money, percent
from mindomo.i18n import current_language, override

from .models import Invoice

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path(__file__).resolve().parent / "fonts"]


@cache
def _fonts() -> tuple[str, str]:
    """DejaVu Sans (accents, the euro sign) when installed; Helvetica otherwise."""
    for directory in FONT_DIRS:
        regular, bold = directory / "DejaVuSans.ttf", directory / "DejaVuSans-Bold.ttf"
        if regular.exists() and bold.exists():
            pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
            pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
            return "DejaVuSans", "DejaVuSans-Bold"
    return "Helvetica", "Helvetica-Bold"


def _money(amount: Decimal | str, currency: str) -> str:
    return money(amount, currency)


def invoice_pdf(invoice: Invoice, *, language: str | None = None) -> bytes:
    """The PDF in ``language`` (default: the language being rendered: the reader's page, or the email's)."""
    regular, bold = _fonts()
    buffer = io.BytesIO()
    with override(language or current_language()):
        pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=0)
        title = _("Credit note") if invoice.is_credit_note else _("Invoice")
        pdf.setTitle(f"{title} {invoice.number}")
        width, height = A4
        y = height - 25 * mm

        def line(text: str, *, size: int = 10, font: str = regular, x: float = 20 * mm) -> None:
            nonlocal y
            pdf.setFont(font, size)
            pdf.drawString(x, y, text)
            y -= size * 0.5 * mm + 2 * mm

        line(f"{title} {invoice.number}", size=18, font=bold)
        line(_("Issued on %(date)s") % {"date": formats.date_format(invoice.issued_at, "DATE_FORMAT")})
        if invoice.is_credit_note:
            line(_("Credits invoice %(number)s") % {"number": invoice.credited_invoice_number})
        y -= 4 * mm
        seller = invoice.seller
        line(_("Seller"), font=bold, size=11)
        for text in (
            seller.get("name", ""),
            seller.get("address", ""),
            _("VAT ID: %(vat_id)s") % {"vat_id": seller.get("vat_id", "")},
            seller.get("email", ""),
        ):
            if text:
                line(text)
        y -= 4 * mm
        line(_("Billed to"), font=bold, size=11)
        place = " ".join(p for p in (invoice.billing_postal_code, invoice.billing_city) if p)
        for text in (
            invoice.billing_full_name,
            invoice.billing_address,
            place,
            invoice.billing_state,
            str(countries.name(invoice.billing_country)),
            _("Phone: %(phone)s") % {"phone": invoice.billing_phone},
            _("VAT ID: %(vat_id)s") % {"vat_id": invoice.billing_vat_id} if invoice.billing_vat_id else "",
            _("Account: %(name)s <%(email)s>") % {"name": invoice.buyer_account_name, "email": invoice.buyer_email},
        ):
            if text:
                line(text)
        y -= 6 * mm
        pdf.setFont(bold, 10)
        pdf.drawString(20 * mm, y, _("Description"))
        pdf.drawRightString(140 * mm, y, _("Quantity"))
        pdf.drawRightString(width - 20 * mm, y, _("Amount"))
        y -= 6 * mm
        pdf.setFont(regular, 10)
        for item in invoice.lines:
            pdf.drawString(20 * mm, y, str(item["description"]))
            pdf.drawRightString(140 * mm, y, str(item["quantity"]))
            pdf.drawRightString(width - 20 * mm, y, _money(item["amount"], invoice.currency))
            y -= 6 * mm
        y -= 4 * mm
        for label, amount, font in (
            (_("Net amount"), invoice.net_amount, regular),
            (_("VAT %(rate)s") % {"rate": percent(invoice.vat_rate)}, invoice.vat_amount, regular),
            (_("Total"), invoice.total, bold),
        ):
            pdf.setFont(font, 11)
            pdf.drawString(110 * mm, y, label)
            pdf.drawRightString(width - 20 * mm, y, _money(amount, invoice.currency))
            y -= 7 * mm
        if invoice.reverse_charge:
            y -= 4 * mm
            line(
                _("Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC)."), size=9
            )
        pdf.showPage()
        pdf.save()
    return buffer.getvalue()
