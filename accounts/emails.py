"""Emails about a person's data: export ready, deletion scheduled, account erased."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from .models import AccountDeletionRequest, DataExport


def _send(template: str, *, to: str, context: dict[str, Any]) -> None:
    context = {**context, "site_url": settings.SITE_URL.rstrip("/")}
    subject = " ".join(render_to_string(f"emails/accounts/{template}_subject.txt", context).split())
    body = render_to_string(f"emails/accounts/{template}_body.txt", context)
    send_mail(subject, body, None, [to])


def data_export_ready_send(*, export: DataExport) -> bool:
    """Tell the owner their export can be downloaded (the link needs them signed in)."""
    address = export.user.email
    if not address:
        return False
    _send(
        "data_export_ready",
        to=address,
        context={
            "export": export,
            "name": export.user.get_short_name() or export.user.username,
            "url": settings.SITE_URL.rstrip("/") + reverse("accounts:data_export"),
            "ttl_days": settings.DATA_EXPORT_TTL_DAYS,
        },
    )
    return True


def account_deletion_scheduled_send(*, email: str, name: str, deletion: AccountDeletionRequest) -> None:
    _send(
        "deletion_scheduled",
        to=email,
        context={
            "name": name,
            "deletion": deletion,
            "login_url": settings.SITE_URL.rstrip("/") + reverse("account_login"),
            "support_url": settings.SITE_URL.rstrip("/") + reverse("accounts:support"),
        },
    )


def account_erased_send(*, email: str, name: str) -> None:
    """The last message: sent to an address we no longer hold (it was read before the row was deleted)."""
    _send("account_erased", to=email, context={"name": name})
