from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import audience_for


def cookie_audience(request: HttpRequest) -> dict[str, Any]:
    """``cookie_audience``: whether to show the cookie banner and load analytics, worked out only if used."""
    return {"cookie_audience": SimpleLazyObject(lambda: audience_for(request))}
