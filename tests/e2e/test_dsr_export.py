"""Export journey in Chromium: ask for a copy of your data, watch the progress while a real Celery worker
builds it, get the email from the SMTP sink, download the zip and read its JSON."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from accounts.models import DataExport, User
from mindomo.privacy import registry
from tests.support.smtp import SmtpSink, body_text, first_link

pytestmark = pytest.mark.e2e


def sign_in(page: Page, site: str, login: str, password: str) -> None:
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_login").fill(login)
    page.locator("#id_password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()


def test_ask_for_an_export_get_the_email_and_download_the_json(
    page: Page,
    site: str,
    member: User,
    password: str,
    smtp_sink: SmtpSink,
    real_celery_worker: Any,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    sign_in(page, site, member.username, password)
    page.get_by_role("link", name="Your data").click()
    if "/privacy/accept/" in page.url:  # the privacy app asks for the current policy first
        page.get_by_label("I have read the updated privacy policy and accept it").check()
        page.get_by_role("button", name="Accept and continue").click()

    page.get_by_role("button", name="Request a copy of my data").click()
    expect(page.get_by_text("We are collecting your data.")).to_be_visible()
    # the page refreshes itself until the worker has finished
    download_link = page.get_by_role("link", name="Download (zip)")
    expect(download_link).to_be_visible(timeout=30_000)

    message = smtp_sink.wait_for(to=member.email, subject_contains="Your data export is ready")
    page.goto(first_link(body_text(message), "/account/data/"))
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download (zip)").click()
    archive_path = download_info.value.path()

    with zipfile.ZipFile(archive_path) as archive:
        assert set(archive.namelist()) == {"index.html"} | {f"{p.name}.json" for p in registry.providers()}
        accounts = json.loads(archive.read("accounts.json"))
        index = archive.read("index.html").decode()
    assert accounts["profile"]["username"] == member.username
    assert accounts["profile"]["email"] == member.email
    assert accounts["email_addresses"] == [{"email": member.email, "verified": True, "primary": True}]
    assert "Lovelace" in index
    export = DataExport.objects.get(user=member)
    assert export.state == DataExport.State.READY

    # someone else's session cannot fetch it
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    response = other.request.get(f"{site}/account/data/exports/{export.public_id}/download/", max_redirects=0)
    assert response.status == 302
    assert "/accounts/login/" in response.headers["location"]
    other.close()
