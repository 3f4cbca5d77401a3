"""Counts go through ngettext (or blocktranslate's count), never "1 days": in the emails, the pages and the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string

from consent import emails as consent_emails

ROOT = Path(settings.BASE_DIR)
APPS = ["accounts", "consent", "billing", "grading", "privacy", "analytics", "mindomo"]
NOUNS = (
    "days|hours|minutes|seconds|weeks|months|years|students|users|views|parts|items|columns|characters|emails|"
    "children|accounts|invoices|times|erasures|inquiries|files|classes|teachers|grades|assignments|requests|links"
)
BLOCK = re.compile(r"\{%\s*blocktrans(?:late)?\b([^%]*)%\}(.*?)\{%\s*endblocktrans(?:late)?\s*%\}", re.S)
COUNTED_IN_TEMPLATE = re.compile(r"\{\{\s*\w+\s*\}\}\s+(?:" + NOUNS + r")\b")
GETTEXT_CALL = re.compile(r"\b(?:_|gettext|gettext_lazy|pgettext)\(\s*((?:\"[^\"]*\"\s*)+)\)")
COUNTED_IN_CODE = re.compile(r"%\(\w+\)[ds]\s+(?:" + NOUNS + r")\b")


def _sources(pattern: str, folders: list[str]) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob(pattern) if "migrations" not in p.parts)


def test_no_template_interpolates_a_count_without_a_plural_form() -> None:
    templates = _sources("*.html", ["templates", *APPS]) + _sources("*.txt", ["templates", *APPS])
    assert len(templates) > 50
    offenders = [
        f"{path.relative_to(ROOT)}: {body.strip()[:100]}"
        for path in templates
        for options, body in BLOCK.findall(path.read_text())
        if "count" not in options.split() and COUNTED_IN_TEMPLATE.search(body)
    ]
    assert offenders == []


def test_no_translated_string_in_the_code_interpolates_a_count_without_ngettext() -> None:
    modules = _sources("*.py", APPS)
    assert len(modules) > 50
    offenders = [
        f"{path.relative_to(ROOT)}: {literal.strip()[:100]}"
        for path in modules
        for literal in GETTEXT_CALL.findall(path.read_text())
        if COUNTED_IN_CODE.search(literal)
    ]
    assert offenders == []


@pytest.mark.django_db
@pytest.mark.parametrize("template", ["emails/consent/request.txt", "emails/consent/request.html"])
def test_the_consent_request_says_1_day_and_7_days(template: str) -> None:
    # the context every consent email is rendered with (the direct notice needs it), then the TTL varied
    common = consent_emails._common()
    one = render_to_string(template, {**common, "ttl_days": 1})
    seven = render_to_string(template, {**common, "ttl_days": 7})
    assert "stays open for 1 day." in one
    assert "1 days" not in one
    assert "stays open for 7 days." in seven


@pytest.mark.django_db
def test_the_retention_page_says_1_day_when_a_period_is_one_day(client: object, settings: object) -> None:
    settings.DATA_EXPORT_TTL_DAYS = 1  # type: ignore[attr-defined]
    page = client.get("/privacy/retention/").content.decode()  # type: ignore[attr-defined]
    assert "deleted 1 day after it is ready" in page
    assert "1 days" not in page
