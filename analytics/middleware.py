"""Content-Security-Policy and Permissions-Policy on every response.

The policy admits our own origin only: no inline script, no third-party host (so no advertising or
tracking host), no framing. Two narrow, configured exceptions:

- ``form-action`` also admits the hosts a form of ours redirects to: the OAuth providers' authorization
  pages (allauth's "sign in with" buttons POST to us, and we redirect there) and 2Checkout's hosted
  checkout (billing POSTs to us, and we redirect there). Browsers apply ``form-action`` to those redirects.
- ``CSP_PAGE_SOURCES`` adds sources for named pages only (the card payment page loads Braintree's Drop-in).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

CSP_HEADER = "Content-Security-Policy"
PERMISSIONS_HEADER = "Permissions-Policy"

# Where each allauth provider's "sign in with" form ends up (its authorization page).
PROVIDER_AUTHORIZE_ORIGINS = {
    "google": "https://accounts.google.com",
    "facebook": "https://www.facebook.com",
    "microsoft": "https://login.microsoftonline.com",
    "yahoo": "https://api.login.yahoo.com",
}

BASE_POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "frame-src": ["'none'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


def origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def provider_origins() -> list[str]:
    """Authorization origins of the configured social providers (an app's ``login_url`` wins)."""
    origins = []
    for name, config in settings.SOCIALACCOUNT_PROVIDERS.items():
        for app in config.get("APPS", []):
            custom = origin_of(app.get("settings", {}).get("login_url", ""))
            origin = custom or PROVIDER_AUTHORIZE_ORIGINS.get(name)
            if origin:
                origins.append(origin)
    return origins


def form_action_origins() -> list[str]:
    origins = [*provider_origins(), *settings.CSP_FORM_ACTION_EXTRA]
    if settings.TWOCHECKOUT_MERCHANT_CODE:
        checkout = origin_of(settings.TWOCHECKOUT_CHECKOUT_URL)
        if checkout:
            origins.append(checkout)
    return origins


def _merge(policy: dict[str, list[str]], directive: str, sources: Iterable[str]) -> None:
    current = [s for s in policy.get(directive, ["'self'"]) if s != "'none'"] or []
    for source in sources:
        if source not in current:
            current.append(source)
    policy[directive] = current or ["'none'"]


def build_policy(*, url_name: str | None) -> str:
    policy = {directive: list(sources) for directive, sources in BASE_POLICY.items()}
    _merge(policy, "form-action", form_action_origins())
    if url_name:
        for directive, sources in settings.CSP_PAGE_SOURCES.get(url_name, {}).items():
            _merge(policy, directive, sources)
    return "; ".join(f"{directive} {' '.join(sources)}" for directive, sources in policy.items())


PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()" for feature in ("geolocation", "camera", "microphone", "usb", "browsing-topics")
)


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy and the Permissions-Policy to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = self.get_response(request)
        if settings.DEBUG and response.status_code in {404, 500}:
            # Only in development (DEBUG): Django's technical error pages use inline styles and scripts.
            response.headers[PERMISSIONS_HEADER] = PERMISSIONS_POLICY
            return response
        match = getattr(request, "resolver_match", None)
        response.headers[CSP_HEADER] = build_policy(url_name=match.view_name if match else None)
        response.headers[PERMISSIONS_HEADER] = PERMISSIONS_POLICY
        return response
