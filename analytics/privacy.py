"""What the analytics app keeps about people: only a signed-in adult's cookie choice.

Page-view counts hold no personal data (a URL pattern, a day and a number), so they are not declared.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from mindomo import privacy

from .models import CookieConsent
from .selectors import cookie_choices_expired


@privacy.register
class AnalyticsPrivacyProvider(privacy.PrivacyProvider):
    name = "analytics"
    label = _("Cookie choice")
    legal_basis = _(
        "Consent (GDPR Art. 6(1)(a); ePrivacy Directive Art. 5(3)): only after the visitor opts in; the choice "
        "itself, legal obligation (Art. 7(1))."
    )
    data_subjects = _("Visitors who opted in; every visitor's choice.")
    erase_order = 60

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="analytics.CookieConsent",
                fields=("choice", "decided_at"),
                purpose=_("Apply your cookie choice (essential only, or with analytics) on every browser you use."),
                retention=ngettext(
                    "Until you change it, %(days)d day at most (then you are asked again), or until the account "
                    "is deleted.",
                    "Until you change it, %(days)d days at most (then you are asked again), or until the account "
                    "is deleted.",
                    settings.ANALYTICS_CHOICE_COOKIE_DAYS,
                )
                % {"days": settings.ANALYTICS_CHOICE_COOKIE_DAYS},
            ),
        ]

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="analytics.cookie_choices",
                description=_("Your stored cookie choice"),
                period=ngettext(
                    "deleted %(days)d day after you made it (then you are asked again)",
                    "deleted %(days)d days after you made it (then you are asked again)",
                    settings.ANALYTICS_CHOICE_COOKIE_DAYS,
                )
                % {"days": settings.ANALYTICS_CHOICE_COOKIE_DAYS},
                expired=cookie_choices_expired,
                key=("decided_at", "id"),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        consent = CookieConsent.objects.filter(user=user).first()
        if consent is None:
            return {"cookie_choice": None}
        return {"cookie_choice": {"choice": consent.choice, "decided_at": consent.decided_at.isoformat()}}

    def summary(self, user: User) -> dict[str, Any]:
        return {
            "cookie_choice": privacy.First(CookieConsent.objects.filter(user_id=user.pk).values("choice", "decided_at"))
        }

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        return privacy.delete(CookieConsent.objects.filter(user_id=user.pk))
