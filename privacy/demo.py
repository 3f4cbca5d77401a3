"""Demo staff for the privacy roles, a recorded authority request and a draft notice (idempotent)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.demo import ensure_user
from mindomo.demo import DEMO_PASSWORD, DemoLogin

from .models import DisclosureRequest, DisclosureSubject, Notice
from .roles import PRIVACY_OFFICER, SUPPORT


@transaction.atomic
def load() -> list[DemoLogin]:
    support = ensure_user(
        username="support",
        email="support@example.com",
        first_name="Sam",
        last_name="Support",
        country="RO",
        is_staff=True,
    )
    officer = ensure_user(
        username="privacy",
        email="privacy@example.com",
        first_name="Priya",
        last_name="Officer",
        country="DE",
        is_staff=True,
    )
    support.groups.add(Group.objects.get(name=SUPPORT.group))
    officer.groups.add(Group.objects.get(name=PRIVACY_OFFICER.group))

    request, created = DisclosureRequest.objects.get_or_create(
        authority="Demo District Court",
        received_on=date(2026, 3, 2),
        defaults={
            "kind": DisclosureRequest.Kind.COURT_ORDER,
            "legal_basis": "Court order no. 123/2026",
            "outcome": DisclosureRequest.Outcome.PARTIAL,
            "disclosed": "Sign-up date and country of one account",
            "recorded_by": officer,
        },
    )
    if created:
        ada = ensure_user(username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace", country="GB")
        DisclosureSubject.objects.create(
            request=request, user=ada, subject_id=ada.pk, notified=True, notified_on=date(2026, 3, 10)
        )
    Notice.objects.get_or_create(
        subject="Demo: we are moving our backups",
        defaults={
            "body": "Our backups move to a new data centre in the EU on 1 March. Nothing changes for you.",
            "created_by": officer,
        },
    )
    return [
        DemoLogin("support (staff)", "support", DEMO_PASSWORD, "/admin/ users' contact details, support inquiries"),
        DemoLogin(
            "privacy officer (staff)",
            "privacy",
            DEMO_PASSWORD,
            "/admin/ consent records, access log, disclosure register, notices, policy versions",
        ),
    ]
