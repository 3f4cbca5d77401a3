"""The privacy desk's writes: data-subject request cases and what staff do from them.

Every action goes through the service that owns the job (the consent portal's suspend and link, the accounts
export and erasure pipeline) and leaves a ``CaseAction`` row in the same transaction. Details name no one.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts.models import AccountDeletionRequest, User
from consent import selectors as consent_selectors
from consent.models import ConsentMethod, ConsentRecord
from consent.portal import actions as portal_actions
from consent.portal import session as portal_session

from . import emails
from .models import CaseAction, DataRequestCase

VERIFY_SALT = "privacy.desk.verify"
VERIFY_MAX_AGE = 7 * 24 * 3600


def _act(case: DataRequestCase, *, staff: User | None, kind: str, note: str = "") -> CaseAction:
    return CaseAction.objects.create(
        case=case, kind=kind, staff=staff, staff_label=staff.get_username() if staff else "", note=note
    )


def _locked(case: DataRequestCase) -> DataRequestCase:
    locked = DataRequestCase.objects.select_for_update().get(pk=case.pk)
    if locked.status == DataRequestCase.Status.CLOSED:
        raise ValidationError(_("This case is closed."), code="closed")
    return locked


def _consent_record(case: DataRequestCase) -> ConsentRecord | None:
    if case.subject_id is None:
        return None
    return consent_selectors.consent_for_child(child=case.subject)


@transaction.atomic
def case_open(
    *,
    staff: User,
    kind: str,
    source: str,
    requester_email: str,
    requester_relation: str,
    subject: User | None,
    message: str = "",
    now: datetime.datetime | None = None,
) -> DataRequestCase:
    """Open a case, due DSR_DEADLINE_DAYS from today. A request made about a child's account reported as
    without parental consent suspends the account at once (no sign-in, sessions end)."""
    now = now or timezone.now()
    if kind not in DataRequestCase.Kind.values or source not in DataRequestCase.Source.values:
        raise ValidationError(_("Choose the kind of request and where it came from."), code="invalid")
    if requester_relation not in DataRequestCase.Relation.values:
        raise ValidationError(_("Say who the requester is."), code="invalid")
    if source == DataRequestCase.Source.NO_CONSENT and (subject is None or kind != DataRequestCase.Kind.DELETION):
        raise ValidationError(
            _("A child found without consent is a deletion case about a named account."), code="no_consent"
        )
    if subject is not None and (subject.is_staff or subject.is_superuser):
        raise ValidationError(_("Staff accounts are closed by an administrator, not through a case."), code="staff")
    case = DataRequestCase.objects.create(
        kind=kind,
        source=source,
        requester_email=requester_email.strip().lower(),
        requester_relation=requester_relation,
        message=message,
        subject=subject,
        subject_id_kept=subject.pk if subject else None,
        due_on=(now + datetime.timedelta(days=settings.DSR_DEADLINE_DAYS)).date(),
        opened_by=staff,
    )
    _act(case, staff=staff, kind=CaseAction.Kind.OPENED)
    if source == DataRequestCase.Source.NO_CONSENT and subject is not None:
        case_suspend(case=case, staff=staff)
    return case


@transaction.atomic
def case_suspend(*, case: DataRequestCase, staff: User) -> None:
    """Deactivate the account concerned at once: no sign-in, and every open session ends."""
    case = _locked(case)
    if case.subject is None:
        raise ValidationError(_("This case names no account."), code="no_subject")
    account_services.user_suspend(user=case.subject)  # every session of it ends too
    _act(case, staff=staff, kind=CaseAction.Kind.SUSPENDED)


@transaction.atomic
def case_record_check(*, case: DataRequestCase, staff: User, note: str) -> None:
    """Record the check made before erasing an account reported as a child's without consent."""
    case = _locked(case)
    if not note.strip():
        raise ValidationError(_("Write down what was checked."), code="empty")
    if case.source != DataRequestCase.Source.NO_CONSENT:
        raise ValidationError(_("A check replaces verification only for a child found without consent."))
    case.verification = DataRequestCase.Verification.STAFF_CHECK
    case.verified_at = timezone.now()
    case.status = DataRequestCase.Status.VERIFIED
    case.save(update_fields=["verification", "verified_at", "status"])
    _act(case, staff=staff, kind=CaseAction.Kind.CHECK, note=note.strip())


def verification_token(case: DataRequestCase, email: str) -> str:
    return signing.dumps({"c": case.pk, "e": email}, salt=VERIFY_SALT)


@transaction.atomic
def case_verification_send(*, case: DataRequestCase, staff: User) -> str:
    """Email a verification link to the parent address on the child's consent record (never to an address the
    requester merely stated). Returns the address used."""
    case = _locked(case)
    record = _consent_record(case)
    if record is None or not record.parent_email:
        raise ValidationError(
            _("The account has no parental consent record with an address to verify against."), code="no_record"
        )
    address = record.parent_email
    link = settings.SITE_URL + reverse("privacy:case_verify", args=[verification_token(case, address)])
    emails.send_case_verification(to=address, case=case, link=link)
    _act(case, staff=staff, kind=CaseAction.Kind.LINK_SENT)
    return address


def case_verification_open(*, token: str) -> DataRequestCase:
    """The case a verification link is for, if the link is genuine, recent and still needed. Changes nothing."""
    try:
        data: Any = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
        case = DataRequestCase.objects.get(pk=int(data["c"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, DataRequestCase.DoesNotExist) as exc:
        raise ValidationError(_("This link is not valid or has expired."), code="invalid") from exc
    record = _consent_record(case)
    if record is None or record.parent_email != data.get("e"):
        raise ValidationError(_("This link is not valid or has expired."), code="invalid")
    if case.status != DataRequestCase.Status.OPEN:
        raise ValidationError(_("This request was already confirmed."), code="used")
    return case


@transaction.atomic
def case_verify(*, token: str) -> DataRequestCase:
    """The parent confirmed from the address on the consent record (POST, once)."""
    case = _locked(case_verification_open(token=token))
    if case.status != DataRequestCase.Status.OPEN:
        raise ValidationError(_("This request was already confirmed."), code="used")
    case.verification = DataRequestCase.Verification.CONSENT_ADDRESS_LINK
    case.verified_at = timezone.now()
    case.status = DataRequestCase.Status.VERIFIED
    case.save(update_fields=["verification", "verified_at", "status"])
    _act(case, staff=None, kind=CaseAction.Kind.VERIFIED)
    return case


@transaction.atomic
def case_mark_verified(*, case: DataRequestCase, staff: User, method: str) -> None:
    """Verification by another recorded method (the account holder signed in, the school's contact)."""
    case = _locked(case)
    if method not in (DataRequestCase.Verification.SIGNED_IN, DataRequestCase.Verification.SCHOOL_CONTACT):
        raise ValidationError(_("Choose how the requester was verified."), code="method")
    case.verification = method
    case.verified_at = timezone.now()
    case.status = DataRequestCase.Status.VERIFIED
    case.save(update_fields=["verification", "verified_at", "status"])
    _act(case, staff=staff, kind=CaseAction.Kind.VERIFIED, note=method)


def _require_verified(case: DataRequestCase) -> None:
    if case.status != DataRequestCase.Status.VERIFIED:
        raise ValidationError(_("Verify the requester first."), code="unverified")
    if case.subject is None:
        raise ValidationError(_("This case names no account (or it was already erased)."), code="no_subject")


@transaction.atomic
def case_portal_link_send(*, case: DataRequestCase, staff: User) -> None:
    """Send the parent portal's sign-in link to the verified parent (the consent record's address)."""
    case = _locked(case)
    _require_verified(case)
    record = _consent_record(case)
    if record is None or not record.parent_email:
        raise ValidationError(_("The account has no parental consent record."), code="no_record")
    portal_session.portal_link_request(email=record.parent_email, client_ip=f"privacy-desk-{staff.pk}")
    _act(case, staff=staff, kind=CaseAction.Kind.PORTAL_LINK_SENT)


@transaction.atomic
def case_export(*, case: DataRequestCase, staff: User) -> None:
    """Start the accounts export of the account (the owner, or the parent in the portal, downloads it)."""
    case = _locked(case)
    _require_verified(case)
    assert case.subject is not None
    export = account_services.data_export_request(user=case.subject)
    _act(case, staff=staff, kind=CaseAction.Kind.EXPORT, note=f"export {export.public_id}")


@transaction.atomic
def case_stop_collection(*, case: DataRequestCase, staff: User) -> None:
    """Stop collection for a child under parental consent (the portal's suspend: ledger, sessions end)."""
    case = _locked(case)
    _require_verified(case)
    record = _consent_record(case)
    if record is None or record.method != ConsentMethod.EMAIL_PLUS:
        raise ValidationError(_("Stopping collection applies to a child under parental consent."), code="not_child")
    portal_actions.portal_child_suspend(record=record, parent_email=record.parent_email)
    _act(case, staff=staff, kind=CaseAction.Kind.COLLECTION_STOPPED)


def _erase_reason(case: DataRequestCase) -> str:
    """The deletion request's reason: the case it answers (its number, never the requester)."""
    return f"privacy desk: deletion case {case.pk}"


def case_erase(*, case: DataRequestCase, staff: User) -> bool:
    """Erase the account through the accounts erasure pipeline (every provider's erase(), no raw delete).

    A child under parental consent goes through the portal's erasure (ledger and guardians told). The case
    keeps the account's id only; the request's text is cleared, since it may name the child."""
    with transaction.atomic():
        case = _locked(case)
        _require_verified(case)
        if case.kind != DataRequestCase.Kind.DELETION:
            raise ValidationError(_("Only a deletion case erases an account."), code="kind")
        child = case.subject
        assert child is not None
        record = _consent_record(case)
    if record is not None and record.method == ConsentMethod.EMAIL_PLUS and record.parent_email:
        erased = portal_actions.portal_child_erase(
            record=record, parent_email=record.parent_email, withdraw=False, reason=_erase_reason(case)
        )
    else:
        result = account_services.account_erase_now(user=child, requested_by="privacy_desk", reason=_erase_reason(case))
        erased = result.state == AccountDeletionRequest.State.ERASED
    with transaction.atomic():
        case = DataRequestCase.objects.select_for_update().get(pk=case.pk)
        if erased:
            case.message = ""
            case.save(update_fields=["message"])
        _act(case, staff=staff, kind=CaseAction.Kind.ERASED if erased else CaseAction.Kind.ERASURE_FAILED)
    return erased


@transaction.atomic
def case_close(*, case: DataRequestCase, staff: User, reply: str) -> None:
    """Close the case and email the reply to the requester (through the outbox, in this transaction)."""
    case = _locked(case)
    if not reply.strip():
        raise ValidationError(_("Write the reply the requester will receive."), code="empty")
    case.status = DataRequestCase.Status.CLOSED
    case.closed_at = timezone.now()
    case.reply = reply.strip()
    case.save(update_fields=["status", "closed_at", "reply"])
    emails.send_case_reply(to=case.requester_email, case=case)
    _act(case, staff=staff, kind=CaseAction.Kind.CLOSED)
