"""The parent's page for a child, in a desktop and a phone browser: the actions are in the first screen, every
section of "What we hold about your child" expands; and a school administrator records a parent's address,
the parent signs in by the emailed link and sees the child's grade."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.e2e.roles import cookies_for, load_demo, school_student_username
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ACTIONS = [
    ("button", "Download your child's data (zip)"),
    ("button", "Stop collection"),
    ("summary", "Set a new password"),
    ("summary", "Invite a second parent or guardian"),
    ("summary", "Delete the account, or withdraw consent"),
]


def _page(browser: Any, site: str, viewport: dict[str, int], role: str | None = None, **who: str) -> Any:
    context = browser.new_context(viewport=viewport, base_url=site)
    if role:
        context.add_cookies(cookies_for(role, site, **who))
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _action(page: Any, kind: str, name: str) -> Any:
    if kind == "summary":
        return page.locator("summary", has_text=name)
    return page.get_by_role(kind, name=name, exact=True)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_parents_page_puts_actions_first_and_every_section_expands(
    browser: Any, site: str, viewport: dict[str, int]
) -> None:
    load_demo()
    child = User.objects.get(username="mia")
    page = _page(browser, site, viewport, "parent in the portal")
    page.goto("/consent/parents/children/")
    page.get_by_role("link", name="mia").click()
    expect(page.get_by_role("heading", name="Your child's account: mia")).to_be_visible()
    assert page.url.endswith(f"/consent/parents/children/{child.pk}/")

    for kind, name in ACTIONS:
        action = _action(page, kind, name)
        expect(action).to_be_visible()
        if viewport is DESKTOP:  # every action in the first screen, without scrolling
            box = action.bounding_box()
            assert box is not None, name
            assert box["y"] + box["height"] <= DESKTOP["height"], name

    text = page.locator("main").inner_text()
    for code in ("email_plus", "T00:", "+00:00", "Purchases and invoices", "classes taught", "Process your purchase"):
        assert code not in text, code

    sections = page.locator("details.section")
    assert sections.count() >= 3
    for index in range(sections.count()):
        section = sections.nth(index)
        if section.get_attribute("open") is None:
            section.locator("summary").click()
        expect(section.locator(".section-body")).to_be_visible()
    width = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert width <= viewport["width"]
    page.context.close()


def test_a_school_administrator_records_a_parent_who_then_sees_the_grade(
    browser: Any, site: str, smtp_sink: SmtpSink
) -> None:
    load_demo()
    parent_email = "dad.of.mia.k@example.org"
    student = User.objects.get(username=school_student_username())
    admin = _page(browser, site, DESKTOP, "school administrator")
    admin.goto("/grading/")
    admin.get_by_role("link", name="Maple Grove Primary School").click()
    admin.get_by_role("link", name=f"Parents of {student.get_full_name()}").click()
    admin.get_by_label("Parent's or guardian's email", exact=True).fill(parent_email)
    admin.get_by_role("button", name="Save parents").click()
    expect(admin.get_by_text("Parents saved.")).to_be_visible()
    expect(admin.get_by_text(parent_email)).to_be_visible()
    admin.context.close()

    told = smtp_sink.wait_for(to=parent_email, subject_contains="registered your child")
    assert first_link(body_text(told), "/consent/parents/").endswith("/consent/parents/")

    # the parent signs in to the portal with that address (the emailed link: test_portal_journey)
    parent = _page(browser, site, PHONE, "parent in the portal", parent_email=parent_email)
    parent.goto("/consent/parents/children/")
    parent.get_by_role("link", name=student.username).click()
    expect(parent.get_by_text("Maple Grove Primary School registered your child")).to_be_visible()
    grades = parent.locator("details.section", has_text="Classes and grades")
    # this year's class and last year's (the demo's past class, kept for the school's grade retention period)
    expect(grades.locator(".summary-line")).to_contain_text("2 grades in 2 classes")
    grades.locator("summary").click()
    expect(grades.get_by_text("Plant cells poster")).to_be_visible()
    expect(grades.get_by_text("Year 6 Science").first).to_be_visible()
    expect(grades.get_by_text("Year 5 Science").first).to_be_visible()
    expect(parent.get_by_role("link", name="Ask the school")).to_be_visible()
    parent.context.close()
