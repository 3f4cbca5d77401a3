"""The outbox holds the emails we send (address, subject, text): personal data, kept briefly."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from mindomo import privacy

from .models import Delivery

# The data subject: accounts.User. mindomo (the outbox included) is the bottom layer and names no app's model.
User = Any

FINISHED = [Delivery.Status.FAILED, Delivery.Status.CANCELLED]


def _of(user: User) -> QuerySet[Delivery]:
    addresses = {a.lower() for a in EmailAddress.objects.filter(user_id=user.pk).values_list("email", flat=True)}
    if user.email:
        addresses.add(user.email.lower())
    condition = Q(user_id=user.pk)
    for address in addresses:
        condition |= Q(to_email__iexact=address)
    return Delivery.objects.filter(condition)


def _of_by_subquery(user: User) -> QuerySet[Delivery]:
    """:func:`_of` in one statement: the account's addresses as a subquery."""
    addresses = EmailAddress.objects.filter(user_id=user.pk).annotate(address=Lower("email")).values("address")
    mine = Q(user_id=user.pk) | Q(to_lower__in=addresses)
    if user.email:
        mine |= Q(to_lower=user.email.lower())
    return Delivery.objects.alias(to_lower=Lower("to_email")).filter(mine)


def sent_expired(now: datetime) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        status=Delivery.Status.SENT, sent_at__lte=now - timedelta(days=settings.OUTBOX_SENT_RETENTION_DAYS)
    )


def failed_expired(now: datetime) -> QuerySet[Delivery]:
    return Delivery.objects.filter(
        status__in=FINISHED, failed_at__lte=now - timedelta(days=settings.OUTBOX_FAILED_RETENTION_DAYS)
    )


@privacy.register
class OutboxPrivacyProvider(privacy.PrivacyProvider):
    name = "outbox"
    label = _("Emails we sent you")
    legal_basis = _(
        "The basis of each email's purpose: contract (GDPR Art. 6(1)(b)) or legal obligation (Art. 6(1)(c)) for "
        "consent requests and notices; consent (Art. 6(1)(a)) for product news."
    )
    data_subjects = _("The people we email: account holders, parents and schools' contacts.")

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="outbox.Delivery",
                fields=("to_email", "subject", "text_body", "html_body", "status", "sent_at", "error"),
                purpose=_(
                    "Send you the emails the service owes you (sign-in links, confirmations, invoices, notices) "
                    "even when the mail server is briefly down, and show our support that an email went out."
                ),
                retention=_("Deleted %(after_sent)s after it was sent, %(after_failed)s after it finally failed.")
                % {
                    "after_sent": ngettext_lazy("%(days)d day", "%(days)d days", "days")
                    % {"days": settings.OUTBOX_SENT_RETENTION_DAYS},
                    "after_failed": ngettext_lazy("%(days)d day", "%(days)d days", "days")
                    % {"days": settings.OUTBOX_FAILED_RETENTION_DAYS},
                },
                subject="user_id",
            ),
            privacy.DataCategory(
                model="outbox.DeliveryAttachment",
                fields=("filename", "content"),
                purpose=_("The files an email carries (an invoice's PDF)."),
                retention=_("Deleted with its email."),
            ),
        ]

    def export(self, user: User) -> dict[str, Any]:
        return {
            "emails": [
                {
                    "kind": d.kind,
                    "to": d.to_email,
                    "subject": d.subject,
                    "text": d.text_body,
                    "status": d.status,
                    "created_at": d.created_at.isoformat(),
                    "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                }
                for d in _of(user).order_by("pk")
            ]
        }

    def summary(self, user: User) -> dict[str, Any]:
        # the addresses as a subquery: the count is one scalar subquery of the registry's one statement
        addresses = EmailAddress.objects.filter(user_id=user.pk).annotate(address=Lower("email")).values("address")
        mine = Q(user_id=user.pk) | Q(to_lower__in=addresses)
        if user.email:
            mine |= Q(to_lower=Lower(Value(user.email)))  # the address a parameter as stored: compiled once
        return {"emails": privacy.Count(Delivery.objects.annotate(to_lower=Lower("to_email")).filter(mine))}

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        # the addresses as a subquery too: no read before the statements (the addresses go after, with the user)
        return privacy.delete(_of_by_subquery(user))

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="outbox.sent",
                description=_("Emails we sent (address, subject and text)"),
                period=ngettext_lazy(
                    "deleted %(days)d day after they were sent", "deleted %(days)d days after they were sent", "days"
                )
                % {"days": settings.OUTBOX_SENT_RETENTION_DAYS},
                expired=sent_expired,
                key=("sent_at", "id"),
            ),
            privacy.RetentionRule(
                name="outbox.failed",
                description=_("Emails that could not be delivered, with the mail server's answer"),
                period=ngettext_lazy(
                    "deleted %(days)d day after the last attempt",
                    "deleted %(days)d days after the last attempt",
                    "days",
                )
                % {"days": settings.OUTBOX_FAILED_RETENTION_DAYS},
                expired=failed_expired,
                key=("failed_at", "id"),
            ),
        ]
