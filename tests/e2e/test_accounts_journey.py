"""A person signs up in Chromium, verifies their email from a real SMTP sink, logs in, corrects the profile."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e


def test_sign_up_verify_log_in_and_correct_the_profile(page: Page, site: str, smtp_sink: SmtpSink) -> None:
    page.goto(f"{site}/")
    page.get_by_role("link", name="Create an account").click()
    # the neutral age gate comes first (consent app)
    page.get_by_label("Day").select_option("9")
    page.get_by_label("Month").select_option("11")
    page.get_by_label("Year").select_option("1984")
    page.get_by_label("Country of residence").select_option("AT")
    page.get_by_role("button", name="Continue").click()

    page.get_by_label("First name").fill("Hedy")
    page.get_by_label("Last name").fill("Lamarr")
    page.get_by_label("Email").fill("hedy@example.com")
    page.locator("#id_password1").fill("frequency-hopping-1942")
    page.locator("#id_password2").fill("frequency-hopping-1942")
    page.get_by_label("I have read and accept the privacy policy").check()
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_role("heading", name="Verify Your Email Address")).to_be_visible()

    message = smtp_sink.wait_for(to="hedy@example.com", subject_contains="Confirm")
    page.goto(first_link(body_text(message), "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("button", name="Sign out").click()

    page.goto(f"{site}/accounts/login/")
    page.locator("#id_login").fill("HEDY@example.com")
    page.locator("#id_password").fill("frequency-hopping-1942")
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()
    expect(page.get_by_label("Last name")).to_have_value("Lamarr")

    page.get_by_label("Last name").fill("Kiesler")
    page.get_by_label("Country of residence").select_option("US")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile has been saved.")).to_be_visible()

    user = User.objects.get(email="hedy@example.com")
    assert (user.first_name, user.last_name, user.country.code) == ("Hedy", "Kiesler", "US")
    assert user.policy_acceptances.count() == 1  # accepted at sign-up, not asked again


def test_a_bad_profile_edit_shows_the_error_next_to_the_field(
    page: Page, site: str, member: Any, password: str
) -> None:
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_login").fill(member.username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign In").click()

    page.get_by_label("First name").fill("<script>")
    page.get_by_role("button", name="Save profile").click()

    expect(page.get_by_text("A name may contain letters, spaces, hyphens, apostrophes and dots only.")).to_be_visible()
    member.refresh_from_db()
    assert member.first_name == "Ada"
