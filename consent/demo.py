"""Demo data for consent: a child whose parent approved by email (idempotent)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from mindomo.demo import DEMO_PASSWORD, DemoLogin

from . import ledger
from .models import AgeDecision, AgeOutcome, AgeRule, ConsentMethod, ConsentRecord
from .reference_data import ensure_loaded

PARENT = "parent.of.mia@example.com"


@transaction.atomic
def load() -> list[DemoLogin]:
    ensure_loaded()
    child, created = User.objects.get_or_create(username="mia", defaults={"country": "US"})
    if created:
        child.set_password(DEMO_PASSWORD)
        child.save(update_fields=["password"])
        rule = AgeRule.objects.get(country="US", subdivision="", superseded_at__isnull=True)
        now = timezone.now()
        AgeDecision.objects.create(
            user=child,
            outcome=AgeOutcome.CHILD,
            rule=rule,
            consent_month=now.date().replace(year=now.year + 3, day=1),
            decided_at=now,
        )
        record = ConsentRecord.objects.create(
            child=child,
            method=ConsentMethod.EMAIL_PLUS,
            parent_email=PARENT,
            policy_version=settings.CONSENT_POLICY_VERSION,
            rule=rule,
            granted_at=now,
        )
        ledger.record_event(
            kind="granted", record=record, actor=ledger.parent_pseudonym(child_id=child.pk, email=PARENT), now=now
        )
    return [
        DemoLogin(
            "child (parent approved by email)",
            "mia",
            DEMO_PASSWORD,
            "to try the parent's flow: Sign up, give a birth date 10 years ago and the US; the email is printed",
        ),
        DemoLogin(
            "parent of mia (parent portal, no password)",
            PARENT,
            "(none: a sign-in link by email)",
            "/consent/parents/: enter this address; the console email backend prints the single-use sign-in link",
        ),
    ]
