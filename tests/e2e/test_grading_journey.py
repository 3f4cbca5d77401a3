"""A school administrator registers students by CSV and prints login cards; a teacher creates a class, grades
it and downloads the report after the privacy notice; a student signs in with a card and sees only their grade."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from grading.models import GradeExport
from schools.models import SchoolMembership
from tests.accounts.factories import PASSWORD, UserFactory
from tests.grading.factories import MembershipFactory, SchoolFactory

pytestmark = pytest.mark.e2e


def _nav_sign_out(page: Page) -> Any:
    return page.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")


def _sign_in(page: Page, site: str, login: str) -> None:
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_login").fill(login)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(_nav_sign_out(page)).to_be_visible()


def _card(text: str, username_prefix: str) -> tuple[str, str]:
    """The username and password printed on a card (PDF text extraction may glue the two lines together)."""
    cards = re.findall(r"Username: ([a-z0-9._-]+?)\s*Password: ([a-z]+-[a-z]+-[a-z]+-\d\d)", text)
    return next((u, p) for u, p in cards if u.startswith(username_prefix))


def test_school_registers_teacher_grades_student_sees_own_grade(page: Page, site: str, tmp_path: Path) -> None:
    school = SchoolFactory(name="Maple Grove")
    admin = UserFactory(email="principal@maplegrove.example", first_name="Rosa", last_name="Parks")
    teacher = UserFactory(email="teacher@maplegrove.example", first_name="Alan", last_name="Turing")
    MembershipFactory(school=school, user=admin, role=SchoolMembership.Role.ADMIN)
    MembershipFactory(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)

    # --- the school administrator adds students from a CSV file and prints their login cards
    _sign_in(page, site, admin.email)
    page.goto(f"{site}/grading/")
    page.get_by_role("link", name="Maple Grove").click()
    page.get_by_role("link", name="Add many students from a CSV file").click()
    page.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "year6.csv",
                "mimeType": "text/csv",
                "buffer": b"first_name,last_name\nGrace,Hopper\nKatherine,Johnson\n",
            }
        ]
    )
    page.get_by_role("button", name="Upload and add students").click()
    expect(page.get_by_role("heading", name="2 students added")).to_be_visible()
    # the cards are prepared by a background job; its page says when they are ready and offers them
    page.get_by_role("button", name="Print login cards (PDF)").click()
    expect(page.get_by_role("status").filter(has_text="Your file is ready.")).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile(r"^Download login-cards-")).click()
    pdf = PdfReader(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    cards = "\n".join(p.extract_text() for p in pdf.pages)
    grace_username, grace_password = _card(cards, "grace.h")
    _nav_sign_out(page).click()

    # --- the teacher creates a class and an assignment, grades it, acknowledges the notice, downloads the CSV
    _sign_in(page, site, teacher.email)
    page.goto(f"{site}/grading/")
    page.get_by_role("link", name="Manage classes").click()
    page.get_by_label("Class name").fill("Year 6 Science")
    page.get_by_role("button", name="Create class").click()
    page.get_by_label("Grace Hopper (grace.h)").check()
    page.get_by_label("Katherine Johnson (katherine.j)").check()
    page.get_by_role("button", name="Enroll").click()
    expect(page.get_by_text("2 students enrolled.")).to_be_visible()
    page.get_by_label("Title").fill("Plant cells")
    page.get_by_label("Due date").fill("2026-12-01")
    page.get_by_label("Maximum score").fill("20")
    page.get_by_role("button", name="Add assignment").click()
    page.get_by_role("textbox", name="Score Hopper, Grace Plant cells", exact=True).fill("18.5")
    page.get_by_role("textbox", name="Feedback Hopper, Grace Plant cells", exact=True).fill("Beautiful diagram")
    page.get_by_role("textbox", name="Score Johnson, Katherine Plant cells", exact=True).fill("12")
    page.get_by_role("button", name="Save all grades").click()
    expect(page.get_by_text("Grades saved: 2 new, 0 changed, 0 cleared.")).to_be_visible()

    page.get_by_role("link", name="Report").click()
    expect(page.get_by_role("heading", name="Before you download: students' grades are private")).to_be_visible()
    expect(page.get_by_role("link", name="Download CSV")).to_have_count(0)
    page.get_by_label("I have read this notice").check()
    page.get_by_role("button", name="Acknowledge").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert [r[:4] + r[5:6] for r in rows[1:]] == [
        ["Hopper", "Grace", grace_username, "18.50", "Beautiful diagram"],
        ["Johnson", "Katherine", "katherine.j", "12.00", ""],
    ]
    assert GradeExport.objects.get().row_count == 2
    _nav_sign_out(page).click()

    # --- the student signs in with the login card and sees only their own grade
    page.goto(f"{site}/grading/sign-in/")
    page.get_by_label("Username").fill(grace_username)
    page.get_by_label("Password").fill(grace_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your grades")).to_be_visible()
    rows_seen = page.locator("tr.grade-row")
    expect(rows_seen).to_have_count(1)
    expect(rows_seen).to_contain_text("18.5 / 20")
    expect(rows_seen).to_contain_text("Beautiful diagram")
    expect(page.get_by_text("12 / 20")).to_have_count(0)
