"""Every role, in a phone (390x844) and a desktop (1280x800) browser: exactly the menu that applies to them,
and every page they can reach passes axe-core (no serious or critical violation) and fits a 390 px phone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.roles import ROLE_MENUS, ROLE_SEEDS, cookies_for, load_demo, menu_labels, same_site_links

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
MAX_PAGES_PER_ROLE = 40
# Set SCREENSHOTS=/some/folder to keep a screenshot of every crawled page at both sizes.
SCREENSHOTS = os.environ.get("SCREENSHOTS")


def _new_page(browser: Any, role: str, site: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, base_url=site)
    context.add_cookies(cookies_for(role, site))
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_each_role_sees_exactly_its_menu(browser: Any, site: str, viewport: dict[str, int]) -> None:
    load_demo()
    seen = {}
    for role in ROLE_MENUS:
        page = _new_page(browser, role, site, viewport)
        page.goto(ROLE_SEEDS[role][0])
        seen[role] = menu_labels(page)
        if viewport is DESKTOP:
            for label in seen[role]:  # every item is a visible, named control
                nav = page.get_by_role("navigation", name="Main")
                assert (
                    nav.get_by_role("link", name=label, exact=True)
                    .or_(nav.get_by_role("button", name=label, exact=True))
                    .is_visible()
                )
        page.context.close()
    assert seen == ROLE_MENUS


def _violations(page: Any) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes'][:3]]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _document_width(page: Any) -> int:
    return int(page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"))


def test_every_page_of_every_role_passes_axe_and_fits_a_phone(browser: Any, site: str) -> None:
    load_demo()
    problems: list[str] = []
    crawled = 0
    public: set[str] = set()  # pages the visitor already checked: the same for everyone but the menu
    for role in ROLE_MENUS:
        phone = _new_page(browser, role, site, PHONE)
        desktop = _new_page(browser, role, site, DESKTOP)
        queue = list(ROLE_SEEDS[role])
        visited: set[str] = set()
        while queue and len(visited) < MAX_PAGES_PER_ROLE:
            path = queue.pop(0)
            if path in visited or (path in public and path != "/"):
                continue
            visited.add(path)
            response = desktop.goto(path)
            status = response.status if response else 0
            if status >= 500:
                problems.append(f"{role} {path}: HTTP {status}")
                continue
            for problem in _violations(desktop):
                problems.append(f"{role} {path} desktop: {problem}")
            phone.goto(path)
            for problem in _violations(phone):
                problems.append(f"{role} {path} phone: {problem}")
            width = _document_width(phone)
            if width > PHONE["width"]:
                problems.append(f"{role} {path}: the page is {width} px wide on a 390 px phone")
            if SCREENSHOTS:
                name = (role + path).replace("/", "_").replace(" ", "-").strip("_")[:120]
                Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
                desktop.screenshot(path=f"{SCREENSHOTS}/{name}-1280.png", full_page=True)
                phone.screenshot(path=f"{SCREENSHOTS}/{name}-390.png", full_page=True)
            queue.extend(link for link in same_site_links(desktop, site) if link not in visited)
        crawled += len(visited)
        if role == "anonymous":
            public |= visited
        phone.context.close()
        desktop.context.close()
    assert crawled > 50, crawled  # the crawl really went through the product
    assert not problems, "\n".join(problems)
