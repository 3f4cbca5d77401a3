"""Writes on accounts. Views, tasks and commands call these; they never save a user themselves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import User

BATCH_SIZE = 1000


@transaction.atomic
def user_update_profile(*, user: User, first_name: str, last_name: str, country: str, product_updates: bool) -> User:
    user.first_name = first_name
    user.last_name = last_name
    user.country = country
    user.product_updates = product_updates
    user.save(update_fields=["first_name", "last_name", "country", "product_updates"])
    return user


def socialaccount_minimize_receiver(sender: Any, instance: SocialAccount, **kwargs: Any) -> None:
    """pre_save guard: a linked account keeps the provider and its user id, never the provider's profile.

    The user's name and email were copied to the user at sign-up (accounts.adapters); nothing else
    from the provider is kept.
    """
    instance.extra_data = {}


def unverified_accounts_purge(*, now: Any = None, batch_size: int = BATCH_SIZE) -> int:
    """Delete sign-ups whose email was never verified within UNVERIFIED_ACCOUNT_TTL_DAYS.

    Such a person never used the service; keeping their name and email would be collecting without
    purpose. Set-based, in batches, idempotent. Returns the number of users deleted.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.UNVERIFIED_ACCOUNT_TTL_DAYS)
    candidates = (
        User.objects.filter(date_joined__lt=cutoff, last_login__isnull=True, is_staff=False)
        .filter(Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=False)))
        .exclude(Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)))
        .exclude(Exists(SocialAccount.objects.filter(user=OuterRef("pk"))))
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            deleted += User.objects.filter(pk__in=ids).delete()[1].get("accounts.User", 0)
