"""Printable login cards: a PDF page of cards (2 x 4 per A4 page), drawn with reportlab."""

from __future__ import annotations

import io

from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from schools.services import LoginCard

COLUMNS, ROWS = 2, 4
MARGIN = 12 * mm


def login_cards_pdf(*, cards: list[LoginCard], sign_in_url: str) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=True)
    canvas.setTitle(_("Login cards"))
    page_w, page_h = A4
    card_w = (page_w - 2 * MARGIN) / COLUMNS
    card_h = (page_h - 2 * MARGIN) / ROWS
    per_page = COLUMNS * ROWS
    for index, card in enumerate(cards):
        if index and index % per_page == 0:
            canvas.showPage()
        slot = index % per_page
        x = MARGIN + (slot % COLUMNS) * card_w
        y = page_h - MARGIN - (slot // COLUMNS + 1) * card_h
        canvas.setDash(3, 3)
        canvas.rect(x, y, card_w, card_h)
        canvas.setDash()
        left, top = x + 8 * mm, y + card_h - 12 * mm
        canvas.setFont("Helvetica", 9)
        canvas.drawString(left, top, card.school[:60])
        canvas.setFont("Helvetica-Bold", 14)
        canvas.drawString(left, top - 9 * mm, card.name[:40])
        canvas.setFont("Helvetica", 11)
        canvas.drawString(left, top - 20 * mm, _("Username:") + " " + card.username)
        canvas.drawString(left, top - 28 * mm, _("Password:") + " " + card.password)
        canvas.setFont("Helvetica", 8)
        canvas.drawString(left, top - 40 * mm, _("Sign in at") + " " + sign_in_url)
        canvas.drawString(left, top - 45 * mm, _("Keep this card private. Ask your teacher for a new one if lost."))
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
