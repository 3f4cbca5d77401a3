"""Reads on accounts that follow rules: each takes the viewer."""

from __future__ import annotations

import time
from typing import Any

from allauth.account.internal.flows.login import get_authentication_records
from allauth.socialaccount.models import SocialAccount
from django.db.models import QuerySet
from django.http import HttpRequest

from . import hooks
from .models import DataExport, User

# How recent a sign-in through a linked provider must be to confirm a deletion (allauth's reauth window).
SOCIAL_REAUTH_SECONDS = 300


def data_exports_visible_to(*, viewer: User) -> QuerySet[DataExport]:
    """A person sees (and downloads) only their own exports."""
    return DataExport.objects.filter(user_id=viewer.pk)


def social_accounts_of(*, viewer: User) -> list[SocialAccount]:
    return list(SocialAccount.objects.filter(user_id=viewer.pk).order_by("provider", "pk"))


def recent_social_reauthentication(*, request: HttpRequest, viewer: User) -> str | None:
    """The provider the viewer signed in with in the last few minutes of this session, if any.

    For accounts without a usable password, signing in again through a linked provider is how they
    prove it is really them before deleting the account.
    """
    linked = {(a.provider, a.uid) for a in SocialAccount.objects.filter(user_id=viewer.pk)}
    now = time.time()
    for record in reversed(get_authentication_records(request, viewer)):
        if (
            record.get("method") == "socialaccount"
            and (record.get("provider"), record.get("uid")) in linked
            and now - float(record.get("at", 0)) < SOCIAL_REAUTH_SECONDS
        ):
            return str(record["provider"])
    return None


def user_is_child_or_school_account(user: Any) -> bool:
    """Children under parental consent and accounts a school registered: no social links, no marketing."""
    return hooks.is_restricted(user)


def user_is_school_account(user: Any) -> bool:
    """An account a school registered (its data requests go through the school)."""
    return hooks.is_school_registered(user)


def user_may_link_services(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and not user_is_child_or_school_account(user)
