"""The site's one public base URL (``SITE_URL``): every emailed link, ours and allauth's, starts with it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings


def absolute_url(path: str) -> str:
    """``path`` (from ``reverse``) on the public base URL."""
    return settings.SITE_URL.rstrip("/") + path


def site_domain() -> str:
    """The host (and port) of ``SITE_URL``, as the sites framework stores it."""
    return urlsplit(settings.SITE_URL).netloc or "localhost:8000"


def site_sync_receiver(**kwargs: Any) -> None:
    """After every ``migrate``, the Site row follows ``SITE_URL`` (allauth names the site from it, and builds
    links from it when a mail is rendered outside a request), so ``PORT=9000 make run`` needs no admin edit."""
    from django.contrib.sites.models import Site

    Site.objects.update_or_create(pk=settings.SITE_ID, defaults={"domain": site_domain(), "name": "Mindomo"})
    Site.objects.clear_cache()
