"""Browser journey: buy a plan (Drop-in swapped for a widget posting a test nonce), see the invoice, get the PDF."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from billing.models import Invoice, Order, Plan

pytestmark = pytest.mark.e2e
TEST_TEMPLATES = Path(__file__).resolve().parent.parent / "billing" / "templates"


@pytest.fixture
def test_dropin(settings: Any) -> None:
    templates = [{**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], TEST_TEMPLATES]}]
    settings.TEMPLATES = templates
    settings.BILLING_DROPIN_TEMPLATE = "billing_test/dropin_fake.html"


def test_buy_a_plan_see_the_invoice_and_download_the_pdf(
    site: str, page: Any, member: Any, password: str, fake_braintree: Any, test_dropin: Any
) -> None:
    Plan.objects.create(name="Premium yearly", price=Decimal("60.00"), currency="EUR", duration_days=365)
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_login").fill(member.username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign In").click()

    page.goto(f"{site}/billing/")
    if "/privacy/accept/" in page.url:  # the privacy app asks for the current policy first
        page.get_by_label("I have read the updated privacy policy and accept it").check()
        page.get_by_role("button", name="Accept and continue").click()
    page.get_by_role("link", name="Buy Premium yearly").click()
    page.get_by_label("Full name").fill("Zoë Éléonore Dupré")
    page.get_by_label("Country").select_option("US")
    page.get_by_label("Address").fill("1 Main Street")
    page.get_by_label("City").fill("Springfield")
    page.get_by_label("ZIP / postal code").fill("12345")
    page.get_by_label("State / province").fill("Oregon")
    page.get_by_label("Phone").fill("+1 555 0100")
    page.get_by_role("button", name="Continue to payment").click()
    assert page.get_by_test_id("order-total").inner_text() == "€60.00"
    page.get_by_role("button", name="Pay with the test card").click()

    page.get_by_text("Your payment was received").wait_for()
    invoice = Invoice.objects.get(user=member)
    assert page.get_by_role("heading", name=f"Invoice {invoice.number}").is_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = Path(download_info.value.path()).read_bytes()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert f"Invoice {invoice.number}" in text
    assert "Zoë Éléonore Dupré" in text
    assert "€60.00" in text
    assert Order.objects.get(user=member).card_last4 == "1111"
    assert len(fake_braintree.state.charged()) == 1
