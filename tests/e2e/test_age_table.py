"""The age table on a phone, in Chromium: one card per country with each value named, no sideways scrolling,
and a search box that narrows the table to the country a parent types (accents and case ignored)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_a_parent_on_a_phone_finds_their_country(browser: Any, site: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ro-RO")
    try:
        page = context.new_page()
        page.goto(f"{site}/privacy/ages/")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        rows = page.locator("#age-table tbody tr")
        total = rows.count()
        assert total >= 30

        page.get_by_label("Găsiți o țară sau o regiune").fill("romania")
        visible = page.locator("#age-table tbody tr:visible")
        assert visible.count() == 2  # Romania and the default row, which applies everywhere not listed
        assert visible.nth(0).get_by_role("rowheader").inner_text() == "România"
        # each value named by its column on the card (the header row is off screen, still read by screen readers)
        labels = (
            visible.nth(0)
            .locator("td")
            .evaluate_all("cells => cells.map(cell => getComputedStyle(cell, '::before').content)")
        )
        assert labels == ['"Vârsta"', '"Sursa juridică"', '"În vigoare din"']
        assert (
            not page.locator("#age-table thead").is_visible()
            or page.locator("#age-table thead").bounding_box()["width"] <= 1
        )
        assert page.get_by_text("Rânduri afișate: 1").is_visible()

        page.get_by_label("Găsiți o țară sau o regiune").fill("atlantida")
        assert page.locator("#age-table tbody tr:visible").count() == 1
        assert page.get_by_text("Nicio țară sau regiune cu acest nume").is_visible()

        page.get_by_label("Găsiți o țară sau o regiune").fill("")
        assert page.locator("#age-table tbody tr:visible").count() == total
    finally:
        context.close()


def test_on_a_wide_screen_it_stays_a_table(browser: Any, site: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{site}/privacy/ages/")
        assert page.locator("#age-table thead").is_visible()
        assert page.evaluate("getComputedStyle(document.querySelector('#age-table tbody tr')).display") == "table-row"
    finally:
        context.close()
