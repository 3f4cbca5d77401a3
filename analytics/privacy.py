"""What the analytics app keeps about people: only a signed-in adult's cookie choice.

Page-view counts hold no personal data (a URL pattern, a day and a number), so they are not declared.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from accounts.models import User
from mindomo import privacy

from .models import CookieConsent


@privacy.register
class AnalyticsPrivacyProvider(privacy.PrivacyProvider):
    name = "analytics"
    label = _("Cookie choice")
    erase_order = 60

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="analytics.CookieConsent",
                fields=("choice", "decided_at"),
                purpose=_("Apply your cookie choice (essential only, or with analytics) on every browser you use."),
                retention=_("Until you change it or the account is deleted."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        consent = CookieConsent.objects.filter(user=user).first()
        if consent is None:
            return {"cookie_choice": None}
        return {"cookie_choice": {"choice": consent.choice, "decided_at": consent.decided_at.isoformat()}}

    def erase(self, user: User) -> None:
        CookieConsent.objects.filter(user=user).delete()
