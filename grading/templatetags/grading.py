from __future__ import annotations

from decimal import Decimal

from django import template

from grading.forms import format_score

register = template.Library()


@register.filter
def score(value: Decimal | None) -> str:
    """17.50 -> "17.5", 18.00 -> "18"."""
    return "" if value is None else format_score(value)
