from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings
from django.template import Context
from django.template.loader import render_to_string
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from grading import retention
from grading.forms import ClassEndForm, format_score
from grading.models import SchoolClass

register = template.Library()


@register.filter
def score(value: Decimal | None) -> str:
    """17.50 -> "17.5", 18.00 -> "18"."""
    return "" if value is None else format_score(value)


# The section drawn for a class, a page and what it says (the class's end, the deletion day, the school's months),
# per language, time zone and URL prefix: remembered per process with a mark where the request's CSRF token goes.
_RETENTION_SECTIONS: dict[tuple[Any, ...], str] = {}
_RETENTION_SECTIONS_MAX = 1024  # cleared when full, never grows
# Not a token Django makes (64 letters and digits) and nothing the template escapes changes it.
_CSRF_MARK = "csrf-token-of-the-request"


@register.simple_tag(takes_context=True)
def class_retention(context: Context, school_class: SchoolClass, page: str = "gradebook") -> SafeString:
    """When the class ends and when its grades are deleted, with the form that sets its end (the class's pages;
    the class is read with its school): ``grading/_class_retention.html``, drawn as an inclusion tag draws it (its
    own values and the page's CSRF token, nothing else of the page).

    Drawn once per process for what it shows, then only given the request's CSRF token: the section (dates in
    the language's format, two translated sentences, the end date's form) costs a gradebook request 0.7 ms of CPU,
    the page's largest part after its grid. With ``DEBUG`` on it is drawn every time (templates change)."""
    info = retention.class_retention(school_class)
    values = {
        "school_class": school_class,
        "info": info,
        "form": ClassEndForm(initial={"ends_on": school_class.ends_on}),
        "page": page,
    }
    csrf_token = context.get("csrf_token")
    token = str(csrf_token) if csrf_token else ""
    if settings.DEBUG or not token or token == "NOTPROVIDED":
        return _retention_section({**values, **({"csrf_token": csrf_token} if csrf_token is not None else {})})
    key = (
        school_class.pk,
        page,
        tuple(info.items()),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        get_script_prefix(),
    )
    html = _RETENTION_SECTIONS.get(key)
    if html is None:
        html = _retention_section({**values, "csrf_token": _CSRF_MARK})
        if len(_RETENTION_SECTIONS) >= _RETENTION_SECTIONS_MAX:
            _RETENTION_SECTIONS.clear()
        _RETENTION_SECTIONS[key] = html
    return mark_safe(html.replace(_CSRF_MARK, conditional_escape(token)))  # noqa: S308 -- our template's output


def _retention_section(values: dict[str, Any]) -> SafeString:
    return mark_safe(render_to_string("grading/_class_retention.html", values))  # noqa: S308 -- a template's output
