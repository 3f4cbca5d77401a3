"""In Chromium: the page script reports the device's time zone, and the next page shows times in it."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest

from accounts.models import DataExport
from mindomo.timezones import TIME_ZONE_COOKIE
from tests.accounts.factories import PASSWORD, UserFactory
from tests.e2e.test_dsr_export import sign_in

pytestmark = pytest.mark.e2e


def test_a_browser_in_bucharest_sees_bucharest_time(browser: Any, site: str) -> None:
    user = UserFactory(email="ioana@example.ro", country="US")
    export = DataExport.objects.create(public_id=uuid.uuid4(), user=user, parts_total=1)
    noon = datetime.datetime(2027, 1, 15, 12, 0, tzinfo=datetime.UTC)
    DataExport.objects.filter(pk=export.pk).update(requested_at=noon)

    context = browser.new_context(timezone_id="Europe/Bucharest", viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        sign_in(page, site, user.email, PASSWORD)
        assert {c["name"]: c["value"] for c in context.cookies()}.get(TIME_ZONE_COOKIE) == "Europe/Bucharest"
        page.goto(f"{site}/account/data/")
        assert "2 p.m. EET" in page.locator("main").inner_text()
    finally:
        context.close()
