"""The emails consent sends to parents: plain text and HTML, translatable, rendered from templates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts.models import User
from mindomo import mail
from mindomo.i18n import override
from mindomo.outbox import services as outbox
from mindomo.outbox.models import Delivery
from mindomo.timezones import override_for_country

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
        "operator_name": settings.SELLER_NAME,
        "portal_url": settings.SITE_URL + reverse("consent:portal"),
        "retention_url": settings.SITE_URL + reverse("privacy:retention"),
        "inactivity_days": settings.CHILD_INACTIVITY_DAYS,
        "third_parties": integral_third_parties(),
        "ttl_days": _ttl_days(),
    }


def _enqueue(*, to: str, subject: str, template: str, context: dict[str, Any], **options: Any) -> Delivery:
    """Every consent email but the request goes through the outbox, recorded in the caller's transaction."""
    context = {**_common(), **context}
    return outbox.email_enqueue(
        kind=f"consent.{template}",
        to=to,
        subject=subject,
        template=f"emails/consent/{template}",
        context=context,
        **options,
    )


def _send(*, to: str, subject: str, template: str, context: dict[str, Any], **options: Any) -> None:
    """Called inside ``override(<the recipient's language>)``: the subject is already in it, and the outbox
    renders the body (and sends, even after a retry) in the same language."""
    _enqueue(to=to, subject=subject, template=template, context=context, language=get_language(), **options)


def _recipient_language(address: str) -> str:
    """A school contact's language: their account's stored choice (the default when they have none)."""
    found = User.objects.filter(email__iexact=address).exclude(language="").values_list("language", flat=True)
    return found.first() or ""


def pending_reference(pending_pk: Any) -> str:
    """The outbox reference of the emails about one pending sign-up (forgotten with it)."""
    return f"consent.pending:{pending_pk}"


def parent_link(*, public_id: str, key: str) -> str:
    return settings.SITE_URL + reverse("consent:parent", kwargs={"public_id": public_id, "key": key})


def send_consent_request(*, pending: PendingSignup, key: str) -> None:
    """The one email outside the outbox: its link carries the key, which is never stored. Sent now (by
    consent.tasks.consent_request_send_task, which retries on the outbox's schedule); raises on failure."""
    context = {
        **_common(),
        "link": parent_link(public_id=pending.public_id, key=key),
        "expires_at": pending.expires_at,
    }
    with override(pending.language), override_for_country(pending.country):  # the language the child used
        message = mail.templated_message(
            to=pending.parent_email,
            subject=_("Your child asks for your permission to use Mindomo"),
            template="emails/consent/request",
            context=context,
        )
    mail.send_now(message)


def send_consent_reminder(*, pending: PendingSignup) -> None:
    with override(pending.language), override_for_country(pending.country):
        _send(
            to=pending.parent_email,
            subject=_("Reminder: your child is waiting for your answer"),
            template="reminder",
            context={"expires_at": pending.expires_at},
            reference=pending_reference(pending.pk),
            expires_at=pending.expires_at,
        )


def send_consent_confirmation(*, record: ConsentRecord) -> None:
    with override(record.parent_language):
        _send(
            to=record.parent_email,
            subject=_("You approved your child's Mindomo account"),
            template="confirmation",
            context={"record": record, "login": record.child.username},
            user=record.child,
        )


def send_consent_follow_up(*, record: ConsentRecord, due_at: datetime) -> None:
    """The email-plus follow-up (how to withdraw), due some time after the approval."""
    with override(record.parent_language):
        _send(
            to=record.parent_email,
            subject=_("About your consent for your child's Mindomo account"),
            template="follow_up",
            context={"record": record, "login": record.child.username},
            user=record.child,
            due_at=due_at,
        )


FOLLOW_UP_KIND = "consent.follow_up"


def follow_up_sent(delivery: Delivery, sent_at: datetime) -> None:
    """The outbox's ``delivery_sent`` hook: the consent record keeps when the email-plus follow-up went out (the
    outbox's sent row is purged after OUTBOX_SENT_RETENTION_DAYS; the record is the evidence)."""
    if delivery.kind == FOLLOW_UP_KIND and delivery.user_id is not None:
        ConsentRecord.objects.filter(child_id=delivery.user_id, follow_up_sent_at__isnull=True).update(
            follow_up_sent_at=sent_at
        )


# --- the parent portal ----------------------------------------------------------------------------------
def portal_url() -> str:
    return settings.SITE_URL + reverse("consent:portal")


def send_portal_link(*, email: str, token: str, language: str = "") -> None:
    with override(language):
        _send(
            to=email,
            subject=_("Your sign-in link to the Mindomo parent portal"),
            template="portal_link",
            context={
                "link": settings.SITE_URL + reverse("consent:portal_link", kwargs={"token": token}),
                "minutes": max(1, settings.CONSENT_PORTAL_LINK_TTL // 60),
            },
            # A single-use sign-in link: useless once it expired, and not kept once sent.
            expires_at=timezone.now() + timedelta(seconds=settings.CONSENT_PORTAL_LINK_TTL),
            forget_when_sent=True,
        )


def send_portal_erased(*, email: str, withdrawn: bool, language: str = "") -> None:
    with override(language):
        _send(
            to=email,
            subject=_("Your child's Mindomo account was deleted"),
            template="portal_erased",
            context={"withdrawn": withdrawn},
            forget_when_sent=True,  # the child's data is gone: the row goes once the email is out
        )


def send_guardian_invited(*, guardian: Guardian) -> None:
    with override(guardian.language):
        _send(
            to=guardian.email,
            subject=_("You can now manage a child's Mindomo account"),
            template="guardian_invited",
            context={"login": guardian.record.child.username, "portal_url": portal_url()},
            user=guardian.record.child,
        )


def send_school_guardian_added(*, guardian: Guardian) -> None:
    send_school_guardians_added(guardians=[guardian])


def send_school_guardians_added(*, guardians: Sequence[Guardian]) -> None:
    """Each parent's address a school gave: the school registered their child, and how to open the parent
    portal. Each email in the guardian's language; all of them one INSERT into the outbox (a OneRoster batch
    gives hundreds)."""
    if not guardians:
        return
    common = _common()
    messages = []
    for guardian in guardians:
        record = guardian.record
        with override(guardian.language):
            subject = _("%(school)s registered your child on Mindomo") % {
                "school": record.school.name if record.school else ""
            }
            context = {**common, "login": record.child.username, "school": record.school, "portal_url": portal_url()}
            message = mail.templated_message(
                to=guardian.email, subject=subject, template="emails/consent/school_guardian_added", context=context
            )
            messages.append((message, get_language()))
    outbox.deliveries_enqueue(kind="consent.school_guardian_added", messages=messages)


def send_school_request(
    *, record: ConsentRecord, recipients: list[str], parent_email: str, request_kind: str, message: str
) -> None:
    for address in recipients:
        with override(_recipient_language(address)):
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
                user=record.child,
            )


def send_age_up_parent(*, email: str, login: str, child: Any = None, language: str = "") -> None:
    with override(language):
        _send(
            to=email,
            subject=_("Your child now manages their own Mindomo account"),
            template="age_up_parent",
            context={"login": login},
            user=child,
        )


def send_inactivity_notice(*, to: str, child: Any, erase_on: datetime, school: Any = None, language: str = "") -> None:
    """A child's (or a school's student's) account has not been used for CHILD_INACTIVITY_DAYS: it will be erased
    on ``erase_on`` unless someone signs in. In the recipient's language (a school contact's stored one)."""
    with override(language or _recipient_language(to)):
        _send(
            to=to,
            subject=_("A Mindomo account you look after will be deleted for lack of use"),
            template="inactivity_notice",
            context={
                "login": child.get_username(),
                "erase_on": erase_on,
                "school": school,
                "days": settings.CHILD_INACTIVITY_DAYS,
            },
            user=child,  # an email about the child goes with the child
        )


def send_card_charge_notice(*, record: Any, to: str, third_party: Any, amount: str, refunded: bool) -> None:
    """The notice of the verifying charge and its refund (the parent's language)."""
    with override(record.parent_language):
        _send(
            to=to,
            subject=_("We charged and refunded your card to confirm your consent"),
            template="card_charge_notice",
            context={
                "third_party": third_party,
                "amount": amount,
                "refunded": refunded,
                "login": record.child.username,
            },
            user=record.child,
        )


def send_signed_form_reviewed(*, form: Any) -> None:
    """A privacy officer approved or rejected a parent's signed consent form."""
    with override(form.record.parent_language):
        _send(
            to=form.parent_email,
            subject=_("Your signed consent form was reviewed"),
            template="signed_form_reviewed",
            context={
                "third_party": form.third_party,
                "approved": form.outcome == "approved",
                "login": form.record.child.username,
            },
            user=form.record.child,
        )
