"""Staff in tests: a real TOTP authenticator and a session that went through the second factor.

Every staff account must use a second factor before any page opens (privacy.staff_security). Tests that need a
signed-in staff member use ``sign_in(client, user)``: it signs in like ``force_login`` and, for staff, writes
into the session the authentication records allauth writes after a password and a TOTP code (no setting
switches the enforcement off). ``totp_enable`` gives an account an authenticator app and recovery codes.
"""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.test import Client

from privacy.selectors import is_staff_account

# allauth.account.internal.flows.login's session keys
RECORDS_KEY = "account_authentication_methods"
RECORDS_USER_KEY = "account_authentication_methods_user"


def totp_enable(user: Any, secret: str | None = None) -> str:
    """Activate TOTP (and recovery codes) for ``user``; returns the secret. Idempotent per user."""
    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return _secret_of(existing)
    secret = secret or generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def _secret_of(authenticator: Authenticator) -> str:
    from allauth.mfa.utils import decrypt

    return str(decrypt(authenticator.data["secret"]))


def totp_secret(user: Any) -> str:
    return _secret_of(Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP))


def totp_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for ``secret`` now (or at ``at``)."""
    return format_hotp_value(hotp_value(secret, int(at if at is not None else time.time()) // 30))


def recovery_codes(user: Any) -> list[str]:
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    return list(RecoveryCodes(authenticator).get_unused_codes())


def mfa_session(client: Client, user: Any) -> None:
    """Write allauth's records of a password and a TOTP step into the client's session."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if authenticator is None:
        totp_enable(user)
        authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    session = client.session
    now = time.time()
    session[RECORDS_KEY] = [
        {"method": "password", "at": now, "username": user.username},
        {"method": "mfa", "at": now, "id": authenticator.pk, "type": "totp"},
    ]
    session[RECORDS_USER_KEY] = str(user.pk)
    session.save()


def sign_in(client: Client, user: Any) -> Client:
    """``force_login``, plus the second factor for staff accounts (as if they had entered a TOTP code)."""
    client.force_login(user)
    if is_staff_account(user):
        mfa_session(client, user)
    return client
