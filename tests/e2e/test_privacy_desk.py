"""The privacy officer in Chromium: signs in with a TOTP code, opens a case from a parent's deletion email,
finds the person, and every new desk page passes axe-core (no serious or critical violation); screenshots at
390 px and 1280 px are written to the test's output folder for review."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from accounts.models import User
from privacy.models import DataRequestCase
from tests.consent.portal_helpers import consented_child
from tests.support.dbscan import tables_containing
from tests.support.mfa import totp_code, totp_secret
from tests.support.smtp import SmtpSink, body_text

pytestmark = pytest.mark.e2e
SIGN_IN = re.compile(r"^\s*sign in\s*$", re.IGNORECASE)
PARENT = "parent.of.desk@example.org"


def _violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_the_privacy_officer_opens_a_case_and_every_desk_page_passes_axe(
    page: Page, site: str, privacy_officer_user: User, password: str, tmp_path: Path, smtp_sink: SmtpSink
) -> None:
    child = consented_child("desk.kid", PARENT)
    page.goto(f"{site}/admin/login/?next=/admin/")
    page.locator("#id_login").fill(privacy_officer_user.username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name=SIGN_IN).click()
    page.locator("#id_code").fill(totp_code(totp_secret(privacy_officer_user)))
    page.get_by_role("button", name=SIGN_IN).click()
    expect(page).to_have_url(f"{site}/admin/")

    # a parent wrote "please delete my child's data": the officer opens a case
    page.goto(f"{site}/admin/privacy/datarequestcase/add/")
    page.locator("#id_kind").select_option("deletion")
    page.locator("#id_source").select_option("email")
    page.locator("#id_requester_email").fill(PARENT)
    page.locator("#id_requester_relation").select_option("parent")
    page.locator("#id_message").fill("Please delete my child's data.")
    page.locator("#id_account").fill("desk.kid")
    page.get_by_role("button", name="Save", exact=True).click()
    case = DataRequestCase.objects.get()
    assert case.subject_id == child.pk
    assert case.status == "open"

    pages = {
        "cases": "/admin/privacy/datarequestcase/",
        "case": f"/admin/privacy/datarequestcase/{case.pk}/change/",
        "case_add": "/admin/privacy/datarequestcase/add/",
        "person_search": "/admin/privacy/datarequestcase/person/?q=desk.kid",
        "person": f"/admin/privacy/datarequestcase/person/{child.pk}/",
        "funnel": "/admin/privacy/datarequestcase/funnel/",
        "access_log": "/admin/privacy/accesslog/?q=desk.kid",
    }
    found: dict[str, list[str]] = {}
    for name, path in pages.items():
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(site + path)
            assert "Server Error" not in page.content()
            page.screenshot(path=str(tmp_path / f"desk-{name}-{width}.png"), full_page=True)
            if width == 1280:
                found[name] = _violations(page)
    assert found == {name: [] for name in pages}

    # the person page links the case
    page.goto(site + pages["person"])
    expect(page.get_by_role("link", name=re.compile(rf"#{case.pk} "))).to_be_visible()
    expect(page.get_by_role("heading", name="Consent ledger")).to_be_visible()

    # the parent is verified by a link sent to the address on the consent record
    page.goto(site + pages["case"])
    page.get_by_role("button", name="Send the verification link to the consent record's address").click()
    expect(page.get_by_text("Done: Send the verification link")).to_be_visible()
    email = smtp_sink.wait_for(to=PARENT, subject_contains="Please confirm your request")
    link = re.search(r"https?://\S+/privacy/requests/verify/\S+/", body_text(email))
    assert link is not None
    parent = page.context.browser.new_page()  # type: ignore[union-attr]
    parent.goto(link.group(0))
    parent.get_by_label("I am the child's parent or legal guardian and I made this request.").check()
    parent.get_by_role("button", name="Confirm the request").click()
    expect(parent.get_by_role("heading", name="Request confirmed")).to_be_visible()
    parent.close()

    # erasure through the pipeline: the child's login is in no table afterwards
    assert tables_containing("desk.kid")
    page.goto(site + pages["case"])
    page.get_by_role("button", name="Erase through the erasure pipeline").click()
    expect(page.get_by_text("Done: Erase through the erasure pipeline.")).to_be_visible()
    assert tables_containing("desk.kid") == {}

    # the reply closes the case and reaches the parent
    page.get_by_label("Reply to the requester").fill("Your child's account and all its data were deleted.")
    page.get_by_role("button", name="Close and send the reply (note = the reply)").click()
    reply = smtp_sink.wait_for(to=PARENT, subject_contains="Your privacy request to Mindomo")
    assert "were deleted" in body_text(reply)
    page.goto(site + pages["case"])
    expect(page.locator(".field-status")).to_contain_text("Closed")
    expect(page.get_by_text("Account erased through the erasure pipeline").first).to_be_visible()
    case.refresh_from_db()
    assert list(case.actions.values_list("kind", flat=True)) == ["opened", "link_sent", "verified", "erased", "closed"]


def test_the_case_page_shows_no_action_to_support(page: Page, site: str, support_user: User, password: str) -> None:
    opener: Any = User.objects.create(username="opener", is_staff=True)
    from privacy import desk

    case = desk.case_open(
        staff=opener,
        kind="access",
        source="email",
        requester_email="a@example.org",
        requester_relation="self",
        subject=None,
    )
    page.goto(f"{site}/admin/login/?next=/admin/")
    page.locator("#id_login").fill(support_user.username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name=SIGN_IN).click()
    page.locator("#id_code").fill(totp_code(totp_secret(support_user)))
    page.get_by_role("button", name=SIGN_IN).click()
    page.goto(f"{site}/admin/privacy/datarequestcase/{case.pk}/change/")
    expect(page.get_by_text("a@example.org")).to_be_visible()
    expect(page.get_by_role("button", name="Run the data export")).to_have_count(0)
