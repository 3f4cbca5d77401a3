"""``{% cookie_banner %}`` and ``{% analytics_loader %}``: the two includes of templates/base.html."""

from __future__ import annotations

from typing import Any

from django import template
from django.middleware.csrf import get_token

from analytics import cookies
from analytics.selectors import Audience, audience_for

register = template.Library()


def _audience(context: template.Context) -> Audience | None:
    request = context.get("request")
    if request is None:
        return None
    audience = context.get("cookie_audience")
    return audience if audience is not None else audience_for(request)


@register.inclusion_tag("analytics/_banner.html", takes_context=True)
def cookie_banner(context: template.Context) -> dict[str, Any]:
    """The banner, for visitors who may opt in and have not chosen yet (never for a child)."""
    audience = _audience(context)
    request = context.get("request")
    show = bool(audience is not None and audience.show_banner)
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name == "analytics:settings":
        show = False  # the settings page holds the same choice
    return {"show": show, "next": request.get_full_path() if request is not None and show else ""}


@register.inclusion_tag("analytics/_loader.html", takes_context=True)
def analytics_loader(context: template.Context) -> dict[str, Any]:
    """The analytics script tag, only for adults who opted in."""
    audience = _audience(context)
    request = context.get("request")
    show = bool(audience is not None and audience.analytics_on)
    return {"show": show, "csrf": get_token(request) if request is not None and show else ""}


@register.inclusion_tag("analytics/_cookie_table.html")
def cookie_table() -> dict[str, Any]:
    """Every cookie the site sets (analytics.cookies.catalogue), as the table the cookie settings page shows;
    the privacy policy renders it too, so neither can drift from the cookies the code sets."""

    return {"cookies": cookies.catalogue()}
