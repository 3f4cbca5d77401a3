"""Demo staff for the privacy roles, a recorded authority request and a draft notice (idempotent)."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.demo import ensure_user
from accounts.models import User
from mindomo.demo import DEMO_PASSWORD, DemoLogin

from . import desk, services
from .models import DataRequestCase, DisclosureRequest, DisclosureSubject, Notice, PolicyVersion
from .roles import PRIVACY_OFFICER, SUPPORT

# Every staff demo login gets an authenticator app (TOTP) secret: staff cannot open any page without a second
# factor, and there is no bypass. Add the secret to an authenticator app, or print the current code with
# ``python manage.py demo_totp <login>``.
STAFF_DEMO_LOGINS = ("admin", "support", "privacy", "clerk")


def demo_totp_secret(user: User) -> str:
    """The user's TOTP secret (created on first use, with recovery codes)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from allauth.mfa.utils import decrypt

    existing = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if existing is not None:
        return str(decrypt(existing.data["secret"]))
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret


def _demo_second_factors() -> list[DemoLogin]:
    rows = []
    for user in User.objects.filter(username__in=STAFF_DEMO_LOGINS).order_by("username"):
        rows.append(
            DemoLogin(
                f"second factor of {user.username}",
                f"TOTP secret {demo_totp_secret(user)}",
                "",
                f"current code: python manage.py demo_totp {user.username}",
            )
        )
    return rows


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
    if not DataRequestCase.objects.exists():
        ada = User.objects.get(username="ada")
        desk.case_open(
            staff=support,
            kind=DataRequestCase.Kind.ACCESS,
            source=DataRequestCase.Source.EMAIL,
            requester_email="ada@example.com",
            requester_relation=DataRequestCase.Relation.SELF,
            subject=ada,
            message="Demo: please send me a copy of everything you hold about me.",
        )
    # The 2026 privacy policy, published: mia's parent is asked to agree (the console prints the email) and has
    # POLICY_RECONSENT_DAYS before the reminder; the policy re-consents list shows mia.

    version_2026 = PolicyVersion.objects.filter(version="2026-11-30", published_at__isnull=True).first()
    if version_2026 is not None:
        services.policy_publish(version=version_2026)
    Notice.objects.get_or_create(
        subject="Demo: we are moving our backups",
        defaults={
            "body": "Our backups move to a new data centre in the EU on 1 March. Nothing changes for you.",
            "created_by": officer,
        },
    )
    return [
        *_demo_second_factors(),
        DemoLogin("support (staff)", "support", DEMO_PASSWORD, "/admin/ users' contact details, support inquiries"),
        DemoLogin(
            "privacy officer (staff)",
            "privacy",
            DEMO_PASSWORD,
            "/admin/ consent records, access log, disclosure register, notices, policy versions",
        ),
    ]
