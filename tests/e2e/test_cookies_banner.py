"""The cookie banner in Chromium: the browser's own network log shows when analytics requests happen.

No page-view request before opt-in; one per page after it; none ever for a signed-in child, even one who
forces the choice cookie. The policy blocks nothing the site itself needs (no CSP violation in the console).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from analytics.cookies import CHOICE_COOKIE
from analytics.models import PageViewCount
from tests.analytics.helpers import make_parental_child
from tests.consent.portal_helpers import CHILD_PASSWORD

pytestmark = pytest.mark.e2e

ENDPOINT = "/cookies/pageview/"


class NetworkLog:
    """Every request the page makes, and every Content-Security-Policy complaint in its console."""

    def __init__(self, page: Page) -> None:
        self.requests: list[Request] = []
        self.csp_violations: list[str] = []
        page.on("request", lambda request: self.requests.append(request))
        page.on("console", lambda message: self._console(message.text))

    def _console(self, text: str) -> None:
        if "Content Security Policy" in text:
            self.csp_violations.append(text)

    def page_views(self) -> list[Request]:
        return [request for request in self.requests if request.url.endswith(ENDPOINT)]

    def hosts(self) -> set[str]:
        return {request.url.split("/")[2] for request in self.requests if request.url.startswith("http")}


def test_no_page_view_is_sent_before_opt_in_and_one_per_page_after(page: Page, site: str) -> None:
    log = NetworkLog(page)
    page.goto(f"{site}/privacy/", wait_until="networkidle")
    banner = page.get_by_role("region", name="Cookies", exact=True)
    expect(banner).to_be_visible()
    page.goto(f"{site}/cookies/", wait_until="networkidle")
    page.goto(f"{site}/accounts/login/", wait_until="networkidle")

    assert log.page_views() == []
    assert page.locator("script[src*='analytics']").count() == 0

    # Opt in with the keyboard alone: the skip link, then the banner's first button.
    page.goto(f"{site}/privacy/", wait_until="networkidle")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    accept = page.get_by_role("button", name="Accept analytics")
    expect(accept).to_be_focused()
    expect(page.get_by_role("button", name="Reject analytics")).to_be_visible()
    with page.expect_request(lambda request: request.url.endswith(ENDPOINT)) as sent:
        page.keyboard.press("Enter")
    response = sent.value.response()
    assert response is not None
    assert response.status == 204
    assert sent.value.method == "POST"
    assert sent.value.post_data == "path=%2Fprivacy%2F"
    expect(banner).to_have_count(0)

    with page.expect_request(lambda request: request.url.endswith(ENDPOINT)) as second:
        page.goto(f"{site}/cookies/")
    assert second.value.post_data == "path=%2Fcookies%2F"
    page.wait_for_load_state("networkidle")

    assert len(log.page_views()) == 2
    assert dict(PageViewCount.objects.values_list("path", "count")) == {"/privacy/": 1, "/cookies/": 1}
    assert log.hosts() == {site.split("/")[2]}  # nothing but our own server, ever
    assert log.csp_violations == []


def test_a_signed_in_child_never_sends_a_page_view_even_when_forcing_the_cookie(page: Page, site: str) -> None:
    child: Any = make_parental_child(login="kiddo2016")
    log = NetworkLog(page)
    page.goto(f"{site}/accounts/login/")
    page.locator("#id_login").fill(child.username)
    page.locator("#id_password").fill(CHILD_PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.context.add_cookies([{"name": CHOICE_COOKIE, "value": "analytics", "url": site}])

    for path in ("/privacy/", "/account/profile/", "/cookies/"):
        page.goto(f"{site}{path}", wait_until="networkidle")
        expect(page.get_by_role("region", name="Cookies", exact=True)).to_have_count(0)
        assert page.locator("script[src*='analytics']").count() == 0, path
    expect(page.get_by_text("Analytics are never used here for children's and school accounts")).to_be_visible()

    assert log.page_views() == []
    # A page view forged by hand is refused by the server, and nothing is counted.
    status = page.evaluate(
        """async (endpoint) => {
            const token = document.cookie.split("; ").find((c) => c.startsWith("csrftoken=")).split("=")[1];
            const response = await fetch(endpoint, {method: "POST", headers: {"X-CSRFToken": token},
                                                    body: new URLSearchParams({path: "/privacy/"})});
            return response.status;
        }""",
        ENDPOINT,
    )
    assert status == 403
    assert not PageViewCount.objects.exists()
    assert log.csp_violations == []
