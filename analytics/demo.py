"""Demo: an adult who allowed analytics, and a week of page-view counts for the admin (idempotent)."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone

from accounts.demo import ensure_user
from mindomo.demo import DEMO_PASSWORD, DemoLogin

from .models import CookieChoice, CookieConsent, PageViewCount

DEMO_PAGES = {"/": 40, "/privacy/": 12, "/cookies/": 5, "/account/profile/": 18}


@transaction.atomic
def load() -> list[DemoLogin]:
    user = ensure_user(
        username="olivia", email="olivia@example.com", first_name="Olivia", last_name="Newton", country="IE"
    )
    CookieConsent.objects.get_or_create(
        user=user, defaults={"choice": CookieChoice.ANALYTICS, "decided_at": timezone.now()}
    )
    today = timezone.now().date()
    for days_ago in range(7):
        day = today - datetime.timedelta(days=days_ago)
        for path, views in DEMO_PAGES.items():
            PageViewCount.objects.get_or_create(path=path, day=day, defaults={"count": views + days_ago})
    return [
        DemoLogin(
            "adult who allowed analytics",
            "olivia@example.com",
            DEMO_PASSWORD,
            "/cookies/ to change the choice; counts in /admin/analytics/pageviewcount/ (as admin)",
        )
    ]
