"""Getting into the parent portal without a password: a single-use link, then a session holding only the
parent's address and an expiry."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from mindomo import cache as shared_cache
from mindomo.i18n import current_language

from .. import emails
from .reads import age_up_due, normal_email, parent_has_children

SESSION_KEY = "consent_portal"
# A child who reached the age of consent accepts the policy before anything else (consent.middleware).
AGE_UP_SESSION_KEY = "consent_age_up_due"


def _link_fernet() -> Fernet:
    digest = salted_hmac("consent.portal.link", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _count(key: str, limit: int, timeout: int) -> bool:
    """Count one request against ``key``; True when over ``limit`` within ``timeout`` seconds."""
    return shared_cache.count(key, timeout=timeout) > limit


def _address_digest(email: str) -> str:
    return salted_hmac("consent.portal.address", normal_email(email), algorithm="sha256").hexdigest()


def rate_limit(*, email: str, client_ip: str) -> None:
    """Sign-in links (and school requests without sign-in) per address and per IP per hour (shared cache)."""
    hour = 3600
    try:  # the limits protect the parent's inbox: while Redis is down, no link is sent (fail closed)
        by_address = _count(
            f"consent:portal-link:addr:{_address_digest(email)}",
            settings.CONSENT_PORTAL_LINKS_PER_ADDRESS_PER_HOUR,
            hour,
        )
        by_ip = _count(f"consent:portal-link:ip:{client_ip}", settings.CONSENT_PORTAL_LINKS_PER_IP_PER_HOUR, hour)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if by_address or by_ip:
        raise ValidationError(
            _("Too many sign-in links were asked for in the last hour. Please wait a little and try again."),
            code="rate_limited",
        )


def portal_link_request(*, email: str, client_ip: str) -> None:
    """Email a single-use sign-in link if ``email`` consented for a child. Says nothing either way.

    Rate limited per address and per IP (shared cache) whether or not the address is known.
    """
    email = normal_email(email)
    rate_limit(email=email, client_ip=client_ip)
    if not parent_has_children(email):
        return
    token = _link_fernet().encrypt(json.dumps({"e": email, "n": secrets.token_urlsafe(16)}).encode()).decode()
    # the link's email is written in the language the parent asked in
    emails.send_portal_link(email=email, token=token, language=current_language())


@dataclass(frozen=True)
class PortalLink:
    email: str
    nonce: str


def _used_key(nonce: str) -> str:
    return f"consent:portal-link:used:{nonce}"


def portal_link_open(*, token: str) -> PortalLink:
    """The link's address if the link is genuine, recent and unused. Changes nothing (mail scanners)."""
    try:
        data: Any = json.loads(_link_fernet().decrypt(token.encode(), ttl=settings.CONSENT_PORTAL_LINK_TTL))
        link = PortalLink(email=str(data["e"]), nonce=str(data["n"]))
    except (InvalidToken, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            _("This sign-in link is not valid or has expired. Ask for a new one."), code="invalid"
        ) from exc
    try:  # single use is only as good as the shared record of use: while Redis is down, links wait
        used = shared_cache.strict_get(_used_key(link.nonce))
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if used:
        raise ValidationError(_("This sign-in link was already used. Ask for a new one."), code="used")
    return link


def portal_sign_in(*, request: HttpRequest, token: str, now: datetime.datetime | None = None) -> str:
    """Use the link once: the browser gets a parent session that ends after CONSENT_PORTAL_SESSION_SECONDS."""
    link = portal_link_open(token=token)
    try:
        first_use = shared_cache.strict_add(_used_key(link.nonce), 1, timeout=settings.CONSENT_PORTAL_LINK_TTL + 60)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if not first_use:
        raise ValidationError(_("This sign-in link was already used. Ask for a new one."), code="used")
    now = now or timezone.now()
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "email": link.email,
        "until": (now + datetime.timedelta(seconds=settings.CONSENT_PORTAL_SESSION_SECONDS)).timestamp(),
    }
    return link.email


def portal_email(request: HttpRequest, *, now: datetime.datetime | None = None) -> str | None:
    """The signed-in parent's address, or None (no portal session, or it expired)."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    now = now or timezone.now()
    if float(data.get("until", 0)) <= now.timestamp():
        request.session.pop(SESSION_KEY, None)
        return None
    return str(data.get("email") or "") or None


def portal_sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def age_up_on_login_receiver(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: a child who reached the age of consent is asked to accept the policy first."""
    if request is not None and hasattr(request, "session") and age_up_due(user):
        request.session[AGE_UP_SESSION_KEY] = True
