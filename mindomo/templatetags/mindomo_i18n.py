"""Locale-aware filters for templates: ``{{ total|money:currency }}``, ``{{ rate|percent }}``, ``{{ when|when }}``.

Registered as a builtin library (settings.TEMPLATES), so every template has them without ``{% load %}``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import template

from mindomo import formats

register = template.Library()


@register.filter(name="money")
def money_filter(amount: Decimal | int | float | str | None, currency: str = "EUR") -> str:
    return formats.money(amount, currency or "EUR")


@register.filter(name="percent")
def percent_filter(value: Any) -> str:
    if value is None or value == "":
        return ""
    return formats.percent(value)


@register.filter(name="when")
def when_filter(value: datetime | None) -> str:
    return formats.when(value)
