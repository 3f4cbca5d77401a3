"""Emails of the privacy operations: notices to users and the parents' re-consent after a policy change."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from mindomo.i18n import language_for, override
from mindomo.outbox import services as outbox
from mindomo.outbox.models import Delivery

from .models import Notice, PolicyVersion


def _enqueue(*, kind: str, to: str, subject: str, template: str, context: dict[str, Any], **options: Any) -> Delivery:
    context = {"site_url": settings.SITE_URL, "privacy_url": settings.SITE_URL + reverse("privacy_policy"), **context}
    return outbox.email_enqueue(
        kind=f"privacy.{kind}",
        to=to,
        subject=subject,
        template=f"emails/privacy/{template}",
        context=context,
        **options,
    )


def send_notice(*, notice: Notice, user: User) -> Delivery:
    return _enqueue(
        kind="notice",
        to=user.email,
        subject=notice.subject,
        template="notice",
        context={"notice": notice, "user": user},
        user=user,
        reference=f"privacy.notice:{notice.pk}",
        language=language_for(user),
    )


def send_policy_reconsent(
    *, parent_email: str, version: PolicyVersion, link: str, children: int, language: str = ""
) -> None:
    """In the parent's language (the one they approved their child's account in)."""
    with override(language) as language:
        _enqueue(
            kind="policy_reconsent",
            to=parent_email,
            subject=_("We updated our privacy policy: please review it for your child"),
            template="policy_reconsent",
            context={"version": version, "link": link, "children": children},
            language=language,
        )


def send_staff_new_browser(*, to: str, user: User, when: object, user_agent: str) -> Delivery:
    """A staff account was signed in from a browser it never used before (in the staff member's language)."""
    with override(language_for(user)) as language:
        return _enqueue(
            kind="staff_new_browser",
            to=to,
            subject=_("New sign-in to your Mindomo staff account"),
            template="staff_new_browser",
            context={
                "user": user,
                "when": when,
                "user_agent": user_agent,
                "mfa_url": settings.SITE_URL + reverse("mfa_index"),
            },
            user=user,
            language=language,
        )


def send_case_verification(*, to: str, case: Any, link: str) -> Delivery:
    """Ask the parent on the consent record to confirm a request made about their child."""
    return _enqueue(
        kind="case_verification",
        to=to,
        subject=_("Please confirm your request about your child's Mindomo account"),
        template="case_verification",
        context={"case": case, "link": link},
        reference=f"privacy.case:{case.pk}",
    )


def send_case_reply(*, to: str, case: Any) -> Delivery:
    """The privacy desk's answer when a case closes."""
    return _enqueue(
        kind="case_reply",
        to=to,
        subject=_("Your privacy request to Mindomo (case %(number)s)") % {"number": case.pk},
        template="case_reply",
        context={"case": case},
        reference=f"privacy.case:{case.pk}",
    )
