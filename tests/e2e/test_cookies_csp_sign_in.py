"""The policy's form-action admits the sign-in provider: "Sign in with Microsoft" still works in Chromium.

allauth's button POSTs to us and we redirect to the provider; Chromium applies form-action to that
redirect, so a policy forgetting the provider would stop the sign-in here (Django's test client would not).
"""

from __future__ import annotations

from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import Page, expect

from tests.consent.factories import make_user

pytestmark = pytest.mark.e2e


def test_a_returning_user_signs_in_with_microsoft_under_the_policy(page: Page, site: str, fake_microsoft: Any) -> None:
    user = make_user(email="marie.curie@example.org")
    SocialAccount.objects.create(user=user, provider="microsoft", uid=fake_microsoft.profile["id"])
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )

    page.goto(f"{site}/accounts/login/")
    page.locator("a[href*='/accounts/microsoft/login/']").first.click()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert "GET /common/oauth2/v2.0/authorize" in fake_microsoft.requests
    assert violations == []
