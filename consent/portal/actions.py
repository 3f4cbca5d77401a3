"""What a parent may do in the portal, per child; and the age-up, when the child takes over.

Every write to another app goes through that app's service (``accounts.services``) or a hook the higher app
registered (``consent.hooks``: billing's card check, privacy's policy acceptance); each action that changes
the consent appends to the ledger in the same transaction.
"""

from __future__ import annotations

import datetime
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import services as account_services
from accounts.models import AccountDeletionRequest, User
from mindomo.i18n import current_language

from .. import emails, hooks, ledger
from ..constants import SchoolRequest
from ..models import ConsentMethod, ConsentRecord, Guardian, ParentalControl
from .reads import guardian_addresses, guardian_emails, normal_email, school_recipients
from .session import rate_limit


def _actor(record: ConsentRecord, email: str) -> str:
    return ledger.parent_pseudonym(child_id=record.child_id, email=email)


def _control(record: ConsentRecord) -> ParentalControl:
    control, _created = ParentalControl.objects.select_for_update().get_or_create(record=record)
    return control


def _email_plus(record: ConsentRecord) -> None:
    if record.method != ConsentMethod.EMAIL_PLUS:
        raise ValidationError(
            _("Your child's account was created by a school: send your request to the school."), code="school"
        )


# --- what a parent may do ---------------------------------------------------------------------------------
def portal_child_set_password(*, record: ConsentRecord, parent_email: str, password: str) -> None:
    _email_plus(record)
    account_services.user_set_password(user=record.child, password=password)


@transaction.atomic
def portal_child_suspend(*, record: ConsentRecord, parent_email: str, now: datetime.datetime | None = None) -> bool:
    """Stop further collection: the account is deactivated (no sign-in, sessions end) until resumed."""
    _email_plus(record)
    now = now or timezone.now()
    control = _control(record)
    if control.suspended_at is not None:
        return False
    control.suspended_at = now
    control.save(update_fields=["suspended_at"])
    account_services.user_suspend(user=record.child)
    ledger.record_event(kind="suspended", record=record, actor=_actor(record, parent_email), now=now)
    return True


@transaction.atomic
def portal_child_resume(*, record: ConsentRecord, parent_email: str, now: datetime.datetime | None = None) -> bool:
    _email_plus(record)
    control = _control(record)
    if control.suspended_at is None:
        return False
    control.suspended_at = None
    control.save(update_fields=["suspended_at"])
    if control.policy_paused_at is None:  # still paused until a parent agrees to the changed privacy policy
        account_services.user_resume(user=record.child)
    ledger.record_event(kind="resumed", record=record, actor=_actor(record, parent_email), now=now)
    return True


def portal_child_erase(
    *,
    record: ConsentRecord,
    parent_email: str,
    withdraw: bool,
    reason: str = "",
    now: datetime.datetime | None = None,
) -> bool:
    """Delete the child's account and data at once, through the registry's erasure pipeline.

    ``reason`` (kept on the deletion request) defaults to what the parent did; the privacy desk, erasing on a
    verified request, gives its own.

    The ledger notes the withdrawal first (while the pseudonym mapping still exists); the accounts
    pipeline then erases every provider, the mapping included. The parents get a confirmation.
    Returns False if the erasure failed (it is then retried by the pipeline's beat task).
    """
    _email_plus(record)
    now = now or timezone.now()
    child = User.objects.get(pk=record.child_id)
    recipients = guardian_addresses(record)
    # No grace period: the parent asked for the deletion now (a deletion the child scheduled runs now too).
    deletion = account_services.account_erase_now(
        user=child,
        requested_by="parent_portal",
        reason=reason
        or ("parent withdrew consent in the portal" if withdraw else "parent deleted the account in the portal"),
        now=now,
        before=lambda: ledger.record_event(
            kind="withdrawn",
            record=record,
            actor=_actor(record, parent_email),
            detail={"action": "withdraw" if withdraw else "delete"},
            now=now,
        ),
    )
    erased = deletion.state == AccountDeletionRequest.State.ERASED
    for address, language in recipients:
        emails.send_portal_erased(email=address, withdrawn=withdraw, language=language)
    return erased


@transaction.atomic
def portal_guardian_invite(*, record: ConsentRecord, parent_email: str, guardian_email: str) -> Guardian:
    _email_plus(record)
    guardian_email = normal_email(guardian_email)
    if guardian_email in {normal_email(e) for e in guardian_emails(record)}:
        raise ValidationError(_("This address can already use the parent portal for this child."), code="exists")
    if Guardian.objects.filter(record=record).count() >= settings.CONSENT_GUARDIANS_MAX:
        raise ValidationError(_("This child already has a second guardian."), code="limit")
    guardian = Guardian.objects.create(record=record, email=guardian_email, language=current_language())
    ledger.record_event(
        kind="guardian_added",
        record=record,
        actor=_actor(record, parent_email),
        detail={"guardian": ledger.parent_pseudonym(child_id=record.child_id, email=guardian_email)},
    )
    emails.send_guardian_invited(guardian=guardian)
    return guardian


# --- children registered through a school: requests go to the school ---------------------------------------
@transaction.atomic
def school_request_send(*, record: ConsentRecord, parent_email: str, request_kind: str, message: str = "") -> list[str]:
    """Forward a parent's request about a school-registered child to the school, and record it."""
    if record.method != ConsentMethod.SCHOOL or record.school is None:
        raise ValidationError(_("This child's account is not managed by a school."), code="not_school")
    if request_kind not in dict(SchoolRequest.CHOICES):
        raise ValidationError(_("Please choose what you ask for."), code="kind")
    recipients = school_recipients(record)
    ledger.record_event(
        kind="school_request",
        record=record,
        actor=_actor(record, parent_email),
        detail={"request": request_kind, "school": record.school_id, "recipients": len(recipients)},
    )
    emails.send_school_request(
        record=record,
        recipients=recipients,
        parent_email=parent_email,
        request_kind=request_kind,
        message=message[:2000],
    )
    return recipients


def school_request_by_login(*, login: str, parent_email: str, request_kind: str, message: str, client_ip: str) -> None:
    """A parent without portal access names the student's login: if a school registered that account, the
    request goes to the school (and the ledger). Answers the same either way; rate limited like sign-in links."""
    rate_limit(email=parent_email, client_ip=client_ip)
    record = (
        ConsentRecord.objects.select_related("school")
        .filter(method=ConsentMethod.SCHOOL, child__username__iexact=login.strip())
        .first()
    )
    if record is not None:
        school_request_send(
            record=record, parent_email=normal_email(parent_email), request_kind=request_kind, message=message
        )


# --- age-up: the child reaches the age of consent of their rule -----------------------------------------------
BATCH_SIZE = 1000


def children_reaching_age(now: datetime.datetime) -> QuerySet[ConsentRecord]:
    """Parent-consented children whose month of reaching the age of consent has begun, not yet flagged."""
    flagged = ParentalControl.objects.filter(record=OuterRef("pk"), age_up_due_at__isnull=False)
    return ConsentRecord.objects.filter(
        method=ConsentMethod.EMAIL_PLUS, child__age_decision__consent_month__lte=now.date()
    ).exclude(Exists(flagged))


def children_age_up_find(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Flag every child who reached the age of consent: at their next sign-in they accept the policy
    themselves. Set-based, in batches, idempotent (the daily beat task runs it)."""
    now = now or timezone.now()
    flagged = 0
    while True:
        with transaction.atomic():
            ids = list(children_reaching_age(now).order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return flagged
            ParentalControl.objects.bulk_create(
                [ParentalControl(record_id=pk, age_up_due_at=now) for pk in ids],
                update_conflicts=True,
                unique_fields=["record"],
                update_fields=["age_up_due_at"],
            )
            flagged += len(ids)


@transaction.atomic
def age_up_complete(*, child: User, now: datetime.datetime | None = None) -> ConsentRecord:
    """The child accepted the privacy policy themselves: parental control ends, the parents are told."""
    now = now or timezone.now()
    control = (
        ParentalControl.objects.select_for_update()
        .select_related("record")
        .filter(record__child_id=child.pk, age_up_due_at__isnull=False)
        .first()
    )
    if control is None:
        raise ValidationError(_("Your account is not waiting for this step."), code="not_due")
    record = control.record
    if control.ended_at is not None:
        return record
    accepted_version = hooks.policy_accept.implementation()(child)
    control.ended_at = now
    control.save(update_fields=["ended_at"])
    if control.suspended_at is not None:  # collection resumes under the child's own consent
        control.suspended_at = None
        control.save(update_fields=["suspended_at"])
        account_services.user_resume(user=child)
    ledger.record_event(
        kind="aged_up", record=record, actor="child", detail={"policy_accepted": accepted_version}, now=now
    )
    for address, language in guardian_addresses(record):
        emails.send_age_up_parent(email=address, login=child.username, child=child, language=language)
    return record


def portal_child_archive_allowed(*, record: ConsentRecord) -> None:
    """A parent may ask for the child's data; a school-registered child's is asked of the school."""
    _email_plus(record)


def portal_child_archive(*, record: ConsentRecord) -> IO[bytes]:
    """The child's data as the export's zip archive (built by accounts' service), for the view to stream."""
    _email_plus(record)  # a school-registered child's data is asked of the school
    return account_services.data_archive_open(user=record.child)
