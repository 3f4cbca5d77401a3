"""The parent portal in Chromium with a real SMTP sink: sign in by the emailed link, see the overview, set the
child's password (the child signs in with it), stop collection (sign-in refused), resume, download the data,
delete the child; then no table holds anything of the child but the consent ledger's pseudonymous rows."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from consent import ledger
from consent.models import LedgerEntry
from tests.consent.portal_helpers import consented_child
from tests.support.dbscan import tables_containing
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e

MUM = "mum.of.zoe@example.org"
NEW_PASSWORD = "violet-otter-swims-58"


def child_signs_in(browser: Browser, site: str, password: str) -> Page:
    context = browser.new_context()
    child = context.new_page()
    child.goto(f"{site}/accounts/login/")
    child.locator("#id_login").fill("zoe.2016")
    child.locator("#id_password").fill(password)
    child.get_by_role("button", name="Sign In").click()
    return child


def test_a_parent_signs_in_by_link_manages_and_deletes_the_childs_account(
    page: Page, browser: Browser, site: str, smtp_sink: SmtpSink, tmp_path: Path, settings: Any
) -> None:
    child = consented_child("zoe.2016", MUM)
    subject = ledger.child_pseudonym(child.pk)

    # Sign in by the emailed single-use link.
    page.goto(f"{site}/consent/parents/")
    page.get_by_label("The email address you gave your consent with").fill(MUM)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    message = smtp_sink.wait_for(to=MUM, subject_contains="sign-in link")
    page.goto(first_link(body_text(message), "/consent/parents/link/"))
    page.get_by_role("button", name="Continue to the parent portal").click()
    page.get_by_role("link", name="zoe.2016").click()

    # The overview: every provider of the registry, the login, the consent.
    expect(page.get_by_role("heading", name="Your child's account: zoe.2016")).to_be_visible()
    # what we hold: a collapsed section per kind of data that applies to a child (no purchases)
    expect(page.get_by_text("Account", exact=True)).to_be_visible()
    expect(page.get_by_text("Purchases and invoices")).to_have_count(0)

    # A new password; the child signs in with it.
    page.get_by_text("Set a new password").click()
    page.locator("#id_password1").fill(NEW_PASSWORD)
    page.locator("#id_password2").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_text("The new password is set.")).to_be_visible()
    kid = child_signs_in(browser, site, NEW_PASSWORD)
    expect(kid.get_by_role("heading", name="Your profile")).to_be_visible()
    kid.context.close()

    # Stop collection: sign-in refused. Resume: it works again.
    page.get_by_role("button", name="Stop collection").click()
    expect(page.get_by_text("Collection stopped: your child cannot sign in until you resume it.")).to_be_visible()
    kid = child_signs_in(browser, site, NEW_PASSWORD)
    expect(kid.get_by_role("heading", name="Your account is paused")).to_be_visible()  # a kind page, not "Inactive"
    kid.context.close()
    page.get_by_role("button", name="Resume: let my child sign in again").click()
    expect(page.get_by_text("Your child's account works again.")).to_be_visible()
    kid = child_signs_in(browser, site, NEW_PASSWORD)
    expect(kid.get_by_role("heading", name="Your profile")).to_be_visible()
    kid.context.close()

    # Download the data.
    # Prepared by a background job: its page says when the zip is ready and offers it.
    page.get_by_role("button", name="Download your child's data (zip)").click()
    expect(page.get_by_role("status").filter(has_text="Your file is ready.")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"^Download mindomo-child-")).click()
    archive = tmp_path / "child.zip"
    download.value.save_as(archive)
    names = zipfile.ZipFile(archive).namelist()
    assert "index.html" in names
    assert "accounts.json" in names
    assert "consent.json" in names
    page.get_by_role("link", name="Back", exact=True).click()  # from the zip's page to the child's

    # Delete, after the confirmation.
    assert tables_containing("zoe.2016")
    assert tables_containing(MUM)
    page.get_by_text("Delete the account, or withdraw consent").click()
    page.get_by_role("button", name="Delete my child's account and data now").click()
    expect(page.get_by_text("Please confirm that you want the account deleted.")).to_be_visible()
    page.get_by_text("Delete the account, or withdraw consent").click()
    page.get_by_label("I understand that my child's account and all its data are deleted now").check()
    page.get_by_role("button", name="Delete my child's account and data now").click()
    expect(page.get_by_role("heading", name="Account deleted")).to_be_visible()
    smtp_sink.wait_for(to=MUM, subject_contains="was deleted")

    # Nothing of the child anywhere, but the ledger's pseudonymous rows.
    assert tables_containing("zoe.2016") == {}
    assert tables_containing(MUM) == {}
    assert tables_containing(subject) == {"consent_ledgerentry": ["subject"]}
    assert list(LedgerEntry.objects.filter(subject=subject).values_list("kind", flat=True).order_by("seq")) == [
        "requested",
        "granted",
        "suspended",
        "resumed",
        "withdrawn",
    ]
    assert ledger.verify_chain().ok
