"""The emails consent sends to parents: plain text and HTML, translatable, rendered from templates."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from mindomo.mail import send_templated

from .constants import SchoolRequest
from .models import ConsentRecord, Guardian, PendingSignup
from .selectors import integral_third_parties


def _ttl_days() -> int:
    return max(1, round(settings.CONSENT_REQUEST_TTL / 86400))


def _common() -> dict[str, Any]:
    return {
        "site_url": settings.SITE_URL,
        "privacy_url": settings.SITE_URL + reverse("privacy_policy"),
        "support_email": settings.CONSENT_SUPPORT_EMAIL,
        "third_parties": integral_third_parties(),
        "ttl_days": _ttl_days(),
    }


def _send(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    context = {**_common(), **context}
    send_templated(to=to, subject=subject, template=f"emails/consent/{template}", context=context)


def parent_link(*, public_id: str, key: str) -> str:
    return settings.SITE_URL + reverse("consent:parent", kwargs={"public_id": public_id, "key": key})


def send_consent_request(*, pending: PendingSignup, key: str) -> None:
    _send(
        to=pending.parent_email,
        subject=_("Your child asks for your permission to use Mindomo"),
        template="request",
        context={"link": parent_link(public_id=pending.public_id, key=key), "expires_at": pending.expires_at},
    )


def send_consent_reminder(*, pending: PendingSignup) -> None:
    _send(
        to=pending.parent_email,
        subject=_("Reminder: your child is waiting for your answer"),
        template="reminder",
        context={"expires_at": pending.expires_at},
    )


def send_consent_confirmation(*, record: ConsentRecord) -> None:
    _send(
        to=record.parent_email,
        subject=_("You approved your child's Mindomo account"),
        template="confirmation",
        context={"record": record, "login": record.child.username},
    )


def send_consent_follow_up(*, record: ConsentRecord) -> None:
    _send(
        to=record.parent_email,
        subject=_("About your consent for your child's Mindomo account"),
        template="follow_up",
        context={"record": record, "login": record.child.username},
    )


# --- the parent portal ----------------------------------------------------------------------------------
def portal_url() -> str:
    return settings.SITE_URL + reverse("consent:portal")


def send_portal_link(*, email: str, token: str) -> None:
    _send(
        to=email,
        subject=_("Your sign-in link to the Mindomo parent portal"),
        template="portal_link",
        context={
            "link": settings.SITE_URL + reverse("consent:portal_link", kwargs={"token": token}),
            "minutes": max(1, settings.CONSENT_PORTAL_LINK_TTL // 60),
        },
    )


def send_portal_erased(*, email: str, withdrawn: bool) -> None:
    _send(
        to=email,
        subject=_("Your child's Mindomo account was deleted"),
        template="portal_erased",
        context={"withdrawn": withdrawn},
    )


def send_guardian_invited(*, guardian: Guardian) -> None:
    _send(
        to=guardian.email,
        subject=_("You can now manage a child's Mindomo account"),
        template="guardian_invited",
        context={"login": guardian.record.child.username, "portal_url": portal_url()},
    )


def send_school_request(
    *, record: ConsentRecord, recipients: list[str], parent_email: str, request_kind: str, message: str
) -> None:
    for address in recipients:
        _send(
            to=address,
            subject=_("A parent's request about a student's Mindomo account"),
            template="school_request",
            context={
                "login": record.child.username,
                "school": record.school,
                "parent_email": parent_email,
                "request": dict(SchoolRequest.CHOICES).get(request_kind, request_kind),
                "message": message,
            },
        )


def send_age_up_parent(*, email: str, login: str) -> None:
    _send(
        to=email,
        subject=_("Your child now manages their own Mindomo account"),
        template="age_up_parent",
        context={"login": login},
    )
