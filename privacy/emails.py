"""Emails of the privacy operations: notices to users and the parents' re-consent after a policy change."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from consent.selectors import language_for_address
from mindomo.i18n import language_for, override
from mindomo.outbox import services as outbox
from mindomo.outbox.models import Delivery

from .models import NoticeDelivery, PolicyVersion


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


def send_notice(*, delivery: NoticeDelivery) -> Delivery:
    """A notice to all users, to one recipient: an account holder (in their language), or a parent, guardian or
    school contact (in the language we know for the address), saying why they receive it."""

    user = delivery.user
    language = language_for(user) if user is not None else language_for_address(delivery.address)
    with override(language) as language:
        return _enqueue(
            kind="notice",
            to=delivery.address or (user.email if user is not None else ""),
            subject=delivery.notice.subject,
            template="notice",
            context={"notice": delivery.notice, "user": user, "via": delivery.via, "covers": delivery.covers},
            user=user,
            reference=f"privacy.notice:{delivery.notice_id}",
            language=language,
        )


def send_policy_reconsent(
    *, parent_email: str, version: PolicyVersion, link: str, children: int, language: str = "", reminder: bool = False
) -> None:
    """In the parent's language (the one they approved their child's account in). ``reminder``: the one
    reminder, saying when the account would be paused."""
    from datetime import timedelta

    from django.utils import timezone

    with override(language) as language:
        subject = (
            _("Reminder: please review our updated privacy policy for your child")
            if reminder
            else _("We updated our privacy policy: please review it for your child")
        )
        _enqueue(
            kind="policy_reconsent",
            to=parent_email,
            subject=subject,
            template="policy_reconsent",
            context={
                "version": version,
                "link": link,
                "children": children,
                "reminder": reminder,
                "days": settings.POLICY_RECONSENT_DAYS,
                "pause_on": timezone.now() + timedelta(days=settings.POLICY_RECONSENT_DAYS),
            },
            language=language,
        )


def send_policy_paused(*, parent_email: str, version: PolicyVersion, link: str, language: str = "") -> None:
    """No parent answered the change in time: the child's account is paused until one agrees."""
    with override(language) as language:
        _enqueue(
            kind="policy_paused",
            to=parent_email,
            subject=_("Your child's Mindomo account is paused until you review our privacy policy"),
            template="policy_paused",
            context={"version": version, "link": link},
            language=language,
        )


def send_policy_changed(*, to: str, version: PolicyVersion, via: str, language: str = "") -> None:
    """A school's contact, or a parent a school recorded: told of a material change (nothing to answer)."""

    with override(language or language_for_address(to)) as language:
        _enqueue(
            kind="policy_changed",
            to=to,
            subject=_("We updated our privacy policy"),
            template="policy_changed",
            context={"version": version, "via": via},
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
