"""/api/docs/ works in Chromium under our Content-Security-Policy: Swagger UI from first-party files renders the
operations of /api/openapi.json, with no policy violation and no request to another host."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e


def test_the_api_reference_renders_under_the_policy(page: Page, site: str) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(request.url.split("/")[2]))

    page.goto(f"{site}/api/docs/")

    expect(page.locator(".opblock").first).to_be_visible()
    expect(page.get_by_text("/api/v1/age-gate/").first).to_be_visible()
    assert violations == []
    assert hosts == {site.split("/")[2]}
