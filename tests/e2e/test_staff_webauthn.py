"""A staff member adds a security key (WebAuthn) in Chromium with a virtual authenticator, then signs in to the
admin with the password and the key; TOTP in the browser for a second staff member."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.support.mfa import totp_code, totp_secret

pytestmark = pytest.mark.e2e
SIGN_IN = re.compile(r"^\s*sign in\s*$", re.IGNORECASE)  # the password form's and the code form's button


def _password_step(page: Page, site: str, login: str, password: str, next_url: str = "/admin/") -> None:
    page.goto(f"{site}/admin/login/?next={next_url}")
    page.locator("#id_login").fill(login)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name=SIGN_IN).click()


def test_a_staff_member_registers_a_security_key_and_signs_in_with_it(
    page: Page, site: str, support_user: User, password: str, settings: Any
) -> None:
    # http://localhost is a secure context for Chromium; allauth is told to accept the plain-http origin here.
    settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    # signs in with password + the TOTP code the fixture's authenticator app shows
    _password_step(page, site, support_user.username, password)
    expect(page).to_have_url(f"{site}/accounts/2fa/authenticate/")
    page.locator("#id_code").fill(totp_code(totp_secret(support_user)))
    page.get_by_role("button", name=SIGN_IN).click()
    expect(page).to_have_url(f"{site}/admin/")

    # adds a security key (allauth asks for the password again first)
    page.goto(f"{site}/accounts/2fa/webauthn/add/")
    if "/reauthenticate/" in page.url:
        page.locator("#id_password").fill(password)
        page.get_by_role("button", name="Confirm").click()
    page.locator("#id_name").fill("Virtual key")
    page.get_by_role("button", name="Add").click()
    expect(page).to_have_url(f"{site}/accounts/2fa/")
    page.goto(f"{site}/accounts/2fa/webauthn/")
    expect(page.get_by_text("Virtual key")).to_be_visible()
    assert Authenticator.objects.filter(user=support_user, type=Authenticator.Type.WEBAUTHN).count() == 1

    # signs out, then in again with the password and the key
    page.context.clear_cookies()
    _password_step(page, site, support_user.username, password)
    expect(page).to_have_url(f"{site}/accounts/2fa/authenticate/")
    page.get_by_role("button", name="Use a security key").click()
    expect(page).to_have_url(f"{site}/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    used = Authenticator.objects.get(user=support_user, type=Authenticator.Type.WEBAUTHN)
    assert used.last_used_at is not None


def test_a_wrong_code_keeps_the_admin_closed(page: Page, site: str, privacy_officer_user: User, password: str) -> None:
    _password_step(page, site, privacy_officer_user.username, password)
    expect(page).to_have_url(f"{site}/accounts/2fa/authenticate/")
    right = totp_code(totp_secret(privacy_officer_user))
    page.locator("#id_code").fill("000000" if right != "000000" else "111111")
    page.get_by_role("button", name=SIGN_IN).click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    page.goto(f"{site}/admin/")
    expect(page).not_to_have_url(f"{site}/admin/")
