from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from mindomo import privacy

from .models import User


@privacy.register
class AccountsPrivacyProvider(privacy.PrivacyProvider):
    name = "accounts"
    label = _("Account")
    erase_order = 1000  # deletes the user row itself: last

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="accounts.User",
                fields=(
                    "first_name",
                    "last_name",
                    "email",
                    "username",
                    "password",
                    "country",
                    "product_updates",
                    "last_login",
                    "date_joined",
                ),
                purpose=_("Create and secure your account, sign you in, and address you by name."),
                retention=_(
                    "Until you delete your account. Sign-ups whose email is never verified are deleted after a week."
                ),
            ),
            privacy.DataCategory(
                model="account.EmailAddress",
                fields=("email", "verified", "primary"),
                purpose=_("Verify your email address and let you change it."),
                retention=_("Until you delete your account or remove the address."),
            ),
            privacy.DataCategory(
                model="socialaccount.SocialAccount",
                fields=("provider", "uid", "date_joined", "last_login"),
                purpose=_(
                    "Let you sign in through a service you connected (Google, Facebook, Microsoft, "
                    "Yahoo). We keep which service and its account id, never its profile or tokens."
                ),
                retention=_("Until you disconnect the service or delete your account."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        return {
            "profile": {
                "username": user.username,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "country": str(user.country),
                "product_updates": user.product_updates,
                "date_joined": user.date_joined.isoformat(),
                "last_login": user.last_login.isoformat() if user.last_login else None,
            },
            "email_addresses": [
                {"email": e.email, "verified": e.verified, "primary": e.primary}
                for e in EmailAddress.objects.filter(user=user).order_by("pk")
            ],
            "connected_services": [
                {"provider": a.provider, "date_joined": a.date_joined.isoformat()}
                for a in SocialAccount.objects.filter(user=user).order_by("pk")
            ],
        }

    @transaction.atomic
    def erase(self, user: User) -> None:
        # EmailAddress, SocialAccount (and SocialToken) rows go with the user (ON DELETE CASCADE).
        User.objects.filter(pk=user.pk).delete()
