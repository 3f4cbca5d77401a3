"""Rate limits of the API's own endpoints that send an email or check a password (per client IP, shared cache;
allauth's flows keep ACCOUNT_RATE_LIMITS)."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest
from django.utils.translation import gettext as _

from mindomo import cache as shared_cache

from .errors import ApiError


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def consume(request: HttpRequest, *, kind: str) -> None:
    """Count one request of ``kind`` ("email" or "password") from this IP; 429 over the limit per minute.

    While the shared cache is down the limit fails closed (503 is not used: a 429 asks to try again later)."""
    limit = settings.API_EMAIL_RATE_PER_MINUTE if kind == "email" else settings.API_PASSWORD_RATE_PER_MINUTE
    try:
        count = shared_cache.count(f"api:rate:{kind}:{client_ip(request)}", timeout=60)
    except shared_cache.CacheUnavailable as exc:
        error = shared_cache.unavailable_error()
        raise ApiError.one(429, "unavailable", str(error.message)) from exc
    if count > limit:
        raise ApiError.one(429, "rate_limited", _("Too many requests. Please wait a little and try again."))


def session_store(key: str | None = None) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key=key)
    return store
