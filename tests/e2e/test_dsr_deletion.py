"""Deletion journey in Chromium: confirm with the password, be signed out, sign in during the grace
period to cancel; then delete again and let the erasure run: the account is gone and its email is free."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from accounts import services
from accounts.models import AccountDeletionRequest, User
from tests.e2e.test_dsr_export import sign_in
from tests.support.dbscan import tables_containing
from tests.support.smtp import SmtpSink, body_text

pytestmark = pytest.mark.e2e


def delete_account(page: Page, site: str, password: str) -> None:
    page.goto(f"{site}/account/data/")
    if "/privacy/accept/" in page.url:
        page.get_by_label("I have read the updated privacy policy and accept it").check()
        page.get_by_role("button", name="Accept and continue").click()
    page.get_by_role("link", name="Delete my account").click()
    page.get_by_label("Your password").fill("not-my-password")
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("This is not your current password.")).to_be_visible()
    page.get_by_label("Your password").fill(password)
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Your account will be deleted")).to_be_visible()


def test_delete_cancel_by_signing_in_then_delete_for_good(
    page: Page, site: str, member: User, password: str, smtp_sink: SmtpSink
) -> None:
    email, username = member.email, member.username
    sign_in(page, site, username, password)
    delete_account(page, site, password)
    notice = smtp_sink.wait_for(to=email, subject_contains="Your account will be deleted")
    assert "Sign in before that date" in body_text(notice)
    page.goto(f"{site}/account/profile/")
    expect(page).to_have_url(f"{site}/accounts/login/?next=/account/profile/")

    # changed my mind: signing in cancels
    sign_in(page, site, username, password)
    expect(page.get_by_text("Welcome back. Your account will not be deleted.")).to_be_visible()
    assert AccountDeletionRequest.objects.get().state == AccountDeletionRequest.State.CANCELLED

    # now for good
    delete_account(page, site, password)
    deletion = AccountDeletionRequest.objects.get(state=AccountDeletionRequest.State.SCHEDULED)
    smtp_sink.clear()
    for needle in (username, email, "Lovelace"):
        assert tables_containing(needle), needle
    services.account_erasures_due(now=deletion.erase_after + timedelta(seconds=1))

    smtp_sink.wait_for(to=email, subject_contains="Your account has been deleted")
    assert not User.objects.filter(username=username).exists()
    for needle in (username, email, "Lovelace"):
        assert tables_containing(needle) == {}, needle
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_login").fill(username)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_text("not correct")).to_be_visible()
