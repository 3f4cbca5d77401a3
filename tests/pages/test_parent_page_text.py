"""The parent's page speaks to a parent: labels instead of keys, words instead of codes, human dates, one-line
summaries."""

from __future__ import annotations

from django.utils import translation

from consent.portal.present import human_value, render, summary_line


def test_codes_and_timestamps_read_as_words_and_dates() -> None:
    with translation.override("en"):
        assert human_value("email_plus") == "by email, from you"
        assert human_value("granted") == "Consent granted"
        assert human_value("2026-03-14T09:26:53.589793+00:00") == "March 14, 2026, 9:26 a.m."
        assert human_value("2026-10-02") == "Oct. 2, 2026"
        assert human_value(True) == "yes"
        assert human_value(None) == "none"
        html = render({"profile": {"first_name": "", "username": "mia"}, "classes_taught": []})
    assert "Username" in html
    assert "mia" in html
    assert "First name" not in html
    assert "classes" not in html.lower()


def test_one_line_summaries_count_what_a_parent_cares_about() -> None:
    with translation.override("en"):
        assert summary_line({"classes": [{}], "grades": [{}, {}, {}], "classes_taught": []}) == "3 grades in 1 class"
        assert summary_line({"consent_ledger": [{}], "guardians": []}) == "1 consent event"
