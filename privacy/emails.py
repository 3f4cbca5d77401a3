"""Emails of the privacy operations: notices to users and the parents' re-consent after a policy change."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User

from .models import Notice, PolicyVersion


def _send(*, to: str, subject: str, template: str, context: dict[str, Any]) -> None:
    context = {"site_url": settings.SITE_URL, "privacy_url": settings.SITE_URL + reverse("privacy_policy"), **context}
    text = render_to_string(f"emails/privacy/{template}.txt", context)
    html = render_to_string(f"emails/privacy/{template}.html", context)
    message = EmailMultiAlternatives(subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()


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
