"""Emails about a person's data: export ready, deletion scheduled, account erased (through the outbox)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse

from mindomo import privacy
from mindomo.i18n import override
from mindomo.outbox import services as outbox

from .models import AccountDeletionRequest, DataExport, User


def _render(template: str, *, context: dict[str, Any], language: str) -> tuple[str, str, str]:
    """The subject and body in the recipient's language (their account's stored choice), and that language."""
    context = {**context, "site_url": settings.SITE_URL.rstrip("/")}
    with override(language) as language:
        subject = " ".join(render_to_string(f"emails/accounts/{template}_subject.txt", context).split())
        body = render_to_string(f"emails/accounts/{template}_body.txt", context)
    return subject, body, language


def _enqueue(template: str, *, to: str, context: dict[str, Any], language: str, **options: Any) -> None:
    """Render in the recipient's language (their account's stored choice) and enqueue."""
    subject, body, language = _render(template, context=context, language=language)
    outbox.delivery_enqueue(
        kind=f"accounts.{template}", message=EmailMessage(subject, body, to=[to]), language=language, **options
    )


def data_export_ready_send(*, export: DataExport) -> bool:
    """Tell the owner their export can be downloaded (the link needs them signed in). Call it in the
    transaction that marks the export ready."""
    address = export.user.email
    if not address:
        return False
    _enqueue(
        "data_export_ready",
        to=address,
        user=export.user,
        language=export.user.language,
        context={
            "export": export,
            "name": export.user.get_short_name() or export.user.username,
            "url": settings.SITE_URL.rstrip("/") + reverse("accounts:data_export"),
            "ttl_days": settings.DATA_EXPORT_TTL_DAYS,
        },
    )
    return True


def account_deletion_scheduled_send(
    *, email: str, name: str, deletion: AccountDeletionRequest, user: User | None = None, language: str = ""
) -> None:
    _enqueue(
        "deletion_scheduled",
        to=email,
        user=user,
        language=language or (user.language if user else ""),
        context={
            "name": name,
            "deletion": deletion,
            "login_url": settings.SITE_URL.rstrip("/") + reverse("account_login"),
            "support_url": settings.SITE_URL.rstrip("/") + reverse("accounts:support"),
        },
    )


def account_erased_send(*, email: str, name: str, language: str = "") -> None:
    """The last message: to an address we no longer hold (read before the row was deleted); the delivery
    row itself is deleted once the email is sent. ``language``: the one the account had."""
    _enqueue("account_erased", to=email, context={"name": name}, language=language, forget_when_sent=True)


def account_erased_statement(*, email: str, name: str, language: str = "") -> privacy.Statement:
    """:func:`account_erased_send` as a statement of the erasure's string (rendered now): the delivery's row exists
    exactly when the erasure committed, and its send task is published after that commit."""
    subject, body, language = _render("account_erased", context={"name": name}, language=language)
    sql, params, published = outbox.delivery_statement(
        kind="accounts.account_erased",
        message=EmailMessage(subject, body, to=[email]),
        language=language,
        forget_when_sent=True,
    )
    return privacy.Statement(sql, params, published, prepare=True)
