"""A teacher on no roster signs in with the school's Google account (a local fake of Google's endpoints), asks to
join as a teacher on a phone; the principal gets the email (real SMTP sink), approves on the roster page; the
teacher's next Google sign-in lands in their teacher account. Screenshots of the new pages at 390 and 1280 px go to
``$E2E_SCREENSHOTS`` when it is set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from allauth.socialaccount.providers.google.views import GoogleOAuth2Adapter
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from schools.models import SchoolDomain, SchoolMembership
from tests.accounts.factories import PASSWORD, UserFactory
from tests.grading.factories import MembershipFactory, SchoolFactory
from tests.support.fake_oauth import FakeGoogle
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
EMAIL = "katherine.johnson@maplegrove.example"


@pytest.fixture
def fake_google(settings: Any, monkeypatch: Any) -> Iterator[FakeGoogle]:
    fake = FakeGoogle(client_id="mindomo-google-e2e")
    providers = {**settings.SOCIALACCOUNT_PROVIDERS}
    providers["google"] = {**providers["google"], "APPS": [{"client_id": fake.client_id, "secret": "s"}]}
    settings.SOCIALACCOUNT_PROVIDERS = providers
    monkeypatch.setattr(GoogleOAuth2Adapter, "authorize_url", f"{fake.url}/o/oauth2/v2/auth")
    monkeypatch.setattr(GoogleOAuth2Adapter, "access_token_url", f"{fake.url}/token")
    # the policy's form-action admits the provider we redirect to (accounts.google.com in production)
    settings.CSP_FORM_ACTION_EXTRA = [fake.url]
    fake.claims = {
        "sub": "7001",
        "hd": "maplegrove.example",
        "email": EMAIL,
        "email_verified": True,
        "given_name": "Katherine",
        "family_name": "Johnson",
    }
    yield fake
    fake.stop()


def _check(page: Page, name: str) -> None:
    """No serious or critical axe-core violation, nothing wider than the viewport, and a screenshot if asked."""
    violations = [
        f"{v['id']}: {v['help']}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert violations == [], name
    width = page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert width <= page.viewport_size["width"], f"{name}: {width} px wide"  # type: ignore[index]
    _shot(page, name)


def _shot(page: Page, name: str) -> None:
    folder = os.environ.get("E2E_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _school_sign_in(page: Page, site: str) -> None:
    page.goto(f"{site}/schools/sign-in/")
    page.get_by_label("Your school email address").fill(EMAIL)
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("button", name="Continue with Google").click()


def test_a_teacher_on_no_roster_asks_to_join_and_signs_in_after_the_approval(
    browser: Browser, site: str, smtp_sink: SmtpSink, fake_google: FakeGoogle
) -> None:
    school = SchoolFactory(name="Maple Grove Primary School")
    principal = UserFactory(email="principal@maplegrove.example", first_name="Rosa", last_name="Parks")
    MembershipFactory(school=school, user=principal, role=SchoolMembership.Role.ADMIN)
    SchoolDomain.objects.create(
        school=school,
        domain="maplegrove.example",
        provider=SchoolDomain.Provider.GOOGLE,
        txt_token="e2e",
        verified_at=timezone.now(),
        verified_how="dns",
    )

    teacher = browser.new_context(viewport=PHONE).new_page()
    _school_sign_in(teacher, site)
    heading = teacher.get_by_role("heading", name="Ask to join Maple Grove Primary School as a teacher")
    expect(heading).to_be_visible()
    expect(teacher.get_by_label("First name")).to_have_value("Katherine")
    expect(teacher.get_by_role("heading", name="Are you a student?")).to_be_visible()
    _check(teacher, "join-390")
    teacher.set_viewport_size(DESKTOP)
    _check(teacher, "join-1280")
    teacher.set_viewport_size(PHONE)
    teacher.get_by_role("button", name="Ask to join as a teacher").click()
    expect(teacher.get_by_text("Tick the box if you are a teacher at this school.")).to_be_visible()  # not ticked
    teacher.get_by_label("I am a teacher at Maple Grove Primary School").check()
    teacher.get_by_role("button", name="Ask to join as a teacher").click()
    expect(teacher.get_by_role("heading", name="Your request was sent")).to_be_visible()
    _check(teacher, "join-sent-390")
    assert not User.objects.filter(email=EMAIL).exists()

    message = smtp_sink.wait_for(to=principal.email, subject_contains="asks to join Maple Grove Primary School")
    admin = browser.new_context(viewport=PHONE).new_page()
    admin.goto(first_link(body_text(message), "/grading/schools/"))  # the email's link: sign in, then the roster
    admin.locator("#id_login").fill(principal.email)
    admin.locator("#id_password").fill(PASSWORD)
    admin.get_by_role("button", name="Sign In").click()
    approve = admin.get_by_role("button", name="Approve Katherine Johnson as teacher")
    expect(approve).to_be_visible()
    _check(admin, "roster-requests-390")
    admin.set_viewport_size(DESKTOP)
    _check(admin, "roster-requests-1280")
    approve.click()
    expect(admin.get_by_text("Katherine Johnson is now a teacher of Maple Grove Primary School.")).to_be_visible()
    _shot(admin, "roster-approved-1280")
    smtp_sink.wait_for(to=EMAIL, subject_contains="You are now a teacher of Maple Grove Primary School")

    again = browser.new_context(viewport=PHONE).new_page()
    _school_sign_in(again, site)
    expect(again.get_by_role("navigation", name="Main").get_by_role("button", name="Sign out")).to_be_visible()
    created = User.objects.get(email=EMAIL)
    assert SchoolMembership.objects.filter(school=school, user=created, role="teacher").exists()
    for context_page in (teacher, admin, again):
        context_page.context.close()
