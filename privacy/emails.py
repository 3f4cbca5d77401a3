"""Emails of the privacy operations: notices to users and the parents' re-consent after a policy change."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from accounts.models import User
from mindomo.mail import send_templated

from .models import Notice, PolicyVersion


def _send(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    context = {"site_url": settings.SITE_URL, "privacy_url": settings.SITE_URL + reverse("privacy_policy"), **context}
    send_templated(to=to, subject=subject, template=f"emails/privacy/{template}", context=context)


def send_notice(*, notice: Notice, user: User) -> None:
    _send(to=user.email, subject=notice.subject, template="notice", context={"notice": notice, "user": user})


def send_policy_reconsent(*, parent_email: str, version: PolicyVersion, link: str, children: int) -> None:
    from django.utils.translation import gettext as _

    _send(
        to=parent_email,
        subject=_("We updated our privacy policy: please review it for your child"),
        template="policy_reconsent",
        context={"version": version, "link": link, "children": children},
    )
