"""A child with their own account joins a class by its code in Chromium, on a phone: the parent gets the email
(real SMTP sink), approves from its link, and only then is the child in the class and seen by the teacher."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from grading import services
from grading.models import Enrollment
from tests.accounts.factories import UserFactory
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child
from tests.grading.factories import MembershipFactory, SchoolFactory
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e

MUM = "mum.of.ana@example.org"
PHONE = {"width": 390, "height": 844}


def test_a_child_joins_a_class_by_code_after_the_parents_approval(
    browser: Browser, site: str, smtp_sink: SmtpSink
) -> None:
    child = consented_child("ana.2016", MUM)
    school = SchoolFactory(name="Maple Grove")
    teacher = MembershipFactory(
        school=school, role="teacher", user=UserFactory(first_name="Alan", last_name="Turing")
    ).user
    school_class = services.class_create(teacher=teacher, school=school, name="Year 6 Science")
    code = services.join_code_display(school_class.join_code)

    kid = browser.new_context(viewport=PHONE).new_page()
    kid.goto(f"{site}/accounts/login/")
    kid.locator("#id_login").fill("ana.2016")
    kid.locator("#id_password").fill(CHILD_PASSWORD)
    kid.get_by_role("button", name="Sign In").click()
    kid.get_by_role("link", name="Join a class").click()
    kid.get_by_label("Class code").fill(code.lower())
    kid.get_by_role("button", name="Ask to join").click()
    expect(kid.get_by_role("status").first).to_contain_text("We emailed your parent")
    expect(kid.get_by_text("Waiting for a parent's approval").first).to_be_visible()
    assert not Enrollment.objects.filter(student=child).exists()

    message = smtp_sink.wait_for(to=MUM, subject_contains="asks to join a class")
    parent = browser.new_context(viewport=PHONE).new_page()
    parent.goto(first_link(body_text(message), "/grading/join/answer/"))
    expect(parent.get_by_role("heading", name="Your child asks to join a class")).to_be_visible()
    expect(parent.get_by_text("Year 6 Science").first).to_be_visible()
    parent.get_by_role("button", name="Approve: my child joins the class").click()
    expect(parent.get_by_text("Your child is now in Year 6 Science")).to_be_visible()
    assert Enrollment.objects.filter(student=child, school_class=school_class).exists()

    kid.goto(f"{site}/grading/join/")
    expect(kid.get_by_text("Joined").first).to_be_visible()
    kid.context.close()
    parent.context.close()
