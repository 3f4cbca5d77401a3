"""Browser journeys: Playwright drives Chromium against one live server for the whole session."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser import CHROMIUM_ARGS, HOW_TO_GET_ONE, find_chromium


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    executable = find_chromium()
    if not executable:
        pytest.fail(HOW_TO_GET_ONE, pytrace=False)
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


@pytest.fixture
def site(live_server: Any, transactional_db: Any, settings: Any) -> str:
    """The live server's base URL; links in emails point at it (data migrations' rows are put back after
    flushes by tests/conftest.py)."""
    settings.SITE_URL = live_server.url
    from django.contrib.sites.models import Site

    Site.objects.update_or_create(
        pk=settings.SITE_ID, defaults={"domain": live_server.url.split("//", 1)[1], "name": "Mindomo"}
    )
    return str(live_server.url)


@pytest.fixture
def page(page: Any) -> Any:
    page.set_default_timeout(15_000)
    return page
