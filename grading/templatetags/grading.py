from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from grading import retention
from grading.forms import ClassEndForm, format_score
from grading.models import SchoolClass

register = template.Library()


@register.filter
def score(value: Decimal | None) -> str:
    """17.50 -> "17.5", 18.00 -> "18"."""
    return "" if value is None else format_score(value)


@register.inclusion_tag("grading/_class_retention.html")
def class_retention(school_class: SchoolClass, page: str = "gradebook") -> dict[str, Any]:
    """When the class ends and when its grades are deleted, with the form that sets its end (the class's pages;
    the class is read with its school)."""
    return {
        "school_class": school_class,
        "info": retention.class_retention(school_class),
        "form": ClassEndForm(initial={"ends_on": school_class.ends_on}),
        "page": page,
    }
