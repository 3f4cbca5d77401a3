"""The parent portal: passwordless sign-in by a single-use link, and what a parent may do per child.

Writes (services) and the one protected read (``records_visible_to_parent``) of the portal. A parent is
identified only by the email address that consented (or that a consenting parent invited as a second
guardian); the portal's session holds that address and an expiry, nothing else.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
from dataclasses import dataclass
from functools import partial
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from accounts.models import SchoolMembership, User
from mindomo import cache as shared_cache

from . import hooks, ledger
from .models import (
    ConsentMethod,
    ConsentRecord,
    DisclosureConsent,
    Guardian,
    LedgerEntry,
    ParentalControl,
    ThirdParty,
)

SESSION_KEY = "consent_portal"


# --- the sign-in link ---------------------------------------------------------------------------------
def _link_fernet() -> Fernet:
    digest = salted_hmac("consent.portal.link", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _normal(email: str) -> str:
    return email.strip().lower()


def _count(key: str, limit: int, timeout: int) -> bool:
    """Count one request against ``key``; True when over ``limit`` within ``timeout`` seconds."""
    return shared_cache.count(key, timeout=timeout) > limit


def _rate_limit(*, email: str, client_ip: str) -> None:
    hour = 3600
    try:  # the limits protect the parent's inbox: while Redis is down, no link is sent (fail closed)
        by_address = _count(
            f"consent:portal-link:addr:{_address_digest(email)}",
            settings.CONSENT_PORTAL_LINKS_PER_ADDRESS_PER_HOUR,
            hour,
        )
        by_ip = _count(f"consent:portal-link:ip:{client_ip}", settings.CONSENT_PORTAL_LINKS_PER_IP_PER_HOUR, hour)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if by_address or by_ip:
        raise ValidationError(
            _("Too many sign-in links were asked for in the last hour. Please wait a little and try again."),
            code="rate_limited",
        )


def _address_digest(email: str) -> str:
    return salted_hmac("consent.portal.address", _normal(email), algorithm="sha256").hexdigest()


def parent_has_children(email: str) -> bool:
    return records_visible_to_parent(email=email).exists()


def portal_link_request(*, email: str, client_ip: str) -> None:
    """Email a single-use sign-in link if ``email`` consented for a child. Says nothing either way.

    Rate limited per address and per IP (shared cache) whether or not the address is known.
    """
    email = _normal(email)
    _rate_limit(email=email, client_ip=client_ip)
    if not parent_has_children(email):
        return
    token = _link_fernet().encrypt(json.dumps({"e": email, "n": secrets.token_urlsafe(16)}).encode()).decode()
    from .tasks import portal_link_send_task

    transaction.on_commit(lambda: portal_link_send_task.delay(email, token))


@dataclass(frozen=True)
class PortalLink:
    email: str
    nonce: str


def _used_key(nonce: str) -> str:
    return f"consent:portal-link:used:{nonce}"


def portal_link_open(*, token: str) -> PortalLink:
    """The link's address if the link is genuine, recent and unused. Changes nothing (mail scanners)."""
    try:
        data: Any = json.loads(_link_fernet().decrypt(token.encode(), ttl=settings.CONSENT_PORTAL_LINK_TTL))
        link = PortalLink(email=str(data["e"]), nonce=str(data["n"]))
    except (InvalidToken, ValueError, KeyError, TypeError) as exc:
        raise ValidationError(
            _("This sign-in link is not valid or has expired. Ask for a new one."), code="invalid"
        ) from exc
    try:  # single use is only as good as the shared record of use: while Redis is down, links wait
        used = shared_cache.strict_get(_used_key(link.nonce))
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if used:
        raise ValidationError(_("This sign-in link was already used. Ask for a new one."), code="used")
    return link


def portal_sign_in(*, request: HttpRequest, token: str, now: datetime.datetime | None = None) -> str:
    """Use the link once: the browser gets a parent session that ends after CONSENT_PORTAL_SESSION_SECONDS."""
    link = portal_link_open(token=token)
    try:
        first_use = shared_cache.strict_add(_used_key(link.nonce), 1, timeout=settings.CONSENT_PORTAL_LINK_TTL + 60)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if not first_use:
        raise ValidationError(_("This sign-in link was already used. Ask for a new one."), code="used")
    now = now or timezone.now()
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "email": link.email,
        "until": (now + datetime.timedelta(seconds=settings.CONSENT_PORTAL_SESSION_SECONDS)).timestamp(),
    }
    return link.email


def portal_email(request: HttpRequest, *, now: datetime.datetime | None = None) -> str | None:
    """The signed-in parent's address, or None (no portal session, or it expired)."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    now = now or timezone.now()
    if float(data.get("until", 0)) <= now.timestamp():
        request.session.pop(SESSION_KEY, None)
        return None
    return str(data.get("email") or "") or None


def portal_sign_out(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


# --- the one protected read ---------------------------------------------------------------------------------
def records_visible_to_parent(*, email: str) -> QuerySet[ConsentRecord]:
    """The consent records of the children this address consented for (or was invited for), still under
    parental control. The portal's views look children up only through this."""
    email = _normal(email)
    if not email:
        return ConsentRecord.objects.none()
    invited = Guardian.objects.filter(record=OuterRef("pk"), email__iexact=email)
    ended = ParentalControl.objects.filter(record=OuterRef("pk"), ended_at__isnull=False)
    return (
        ConsentRecord.objects.filter(Q(parent_email__iexact=email) | Exists(invited))
        .exclude(Exists(ended))
        .select_related("child", "school", "rule")
        .order_by("child__username")
    )


def guardian_emails(record: ConsentRecord) -> list[str]:
    emails = [record.parent_email] if record.parent_email else []
    emails += list(Guardian.objects.filter(record=record).order_by("pk").values_list("email", flat=True))
    return emails


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
@transaction.atomic
def portal_child_set_password(*, record: ConsentRecord, parent_email: str, password: str) -> None:
    from django.contrib.auth import password_validation

    _email_plus(record)
    child = User.objects.select_for_update().get(pk=record.child_id)
    password_validation.validate_password(password, user=child)
    child.set_password(password)
    child.save(update_fields=["password"])


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
    User.objects.filter(pk=record.child_id).update(is_active=False)
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
    User.objects.filter(pk=record.child_id).update(is_active=True)
    ledger.record_event(kind="resumed", record=record, actor=_actor(record, parent_email), now=now)
    return True


def portal_child_erase(
    *, record: ConsentRecord, parent_email: str, withdraw: bool, now: datetime.datetime | None = None
) -> bool:
    """Delete the child's account and data at once, through the registry's erasure pipeline.

    The ledger notes the withdrawal first (while the pseudonym mapping still exists); the accounts
    pipeline then erases every provider, the mapping included. The parents get a confirmation.
    Returns False if the erasure failed (it is then retried by the pipeline's beat task).
    """
    from accounts import services as account_services
    from accounts.models import AccountDeletionRequest

    from .tasks import portal_erased_send_task

    _email_plus(record)
    now = now or timezone.now()
    child = User.objects.get(pk=record.child_id)
    recipients = guardian_emails(record)
    with transaction.atomic():
        ledger.record_event(
            kind="withdrawn",
            record=record,
            actor=_actor(record, parent_email),
            detail={"action": "withdraw" if withdraw else "delete"},
            now=now,
        )
        deletion = (
            AccountDeletionRequest.objects.filter(user=child, state__in=AccountDeletionRequest.OPEN_STATES).first()
            # the child's own deletion may already be waiting for its grace period: run that one now
            or account_services.account_deletion_request(user=child, reauthenticated_by="parent_portal", now=now)
        )
    # No grace period: the parent asked for the deletion now.
    result = account_services.account_erasure_run(request_id=deletion.pk, now=deletion.erase_after)
    erased = result is not None and result.state == AccountDeletionRequest.State.ERASED
    for address in recipients:
        transaction.on_commit(partial(portal_erased_send_task.delay, address, withdraw))
    return erased


@transaction.atomic
def portal_guardian_invite(*, record: ConsentRecord, parent_email: str, guardian_email: str) -> Guardian:
    _email_plus(record)
    guardian_email = _normal(guardian_email)
    if guardian_email in {_normal(e) for e in guardian_emails(record)}:
        raise ValidationError(_("This address can already use the parent portal for this child."), code="exists")
    if Guardian.objects.filter(record=record).count() >= settings.CONSENT_GUARDIANS_MAX:
        raise ValidationError(_("This child already has a second guardian."), code="limit")
    guardian = Guardian.objects.create(record=record, email=guardian_email)
    ledger.record_event(
        kind="guardian_added",
        record=record,
        actor=_actor(record, parent_email),
        detail={"guardian": ledger.parent_pseudonym(child_id=record.child_id, email=guardian_email)},
    )
    from .tasks import portal_guardian_invited_send_task

    transaction.on_commit(lambda: portal_guardian_invited_send_task.delay(guardian.pk))
    return guardian


# --- children registered through a school: requests go to the school ---------------------------------------
class SchoolRequest:
    OVERVIEW = "overview"
    DELETION = "deletion"
    STOP = "stop"
    CHOICES = (
        (OVERVIEW, _("an overview of the information collected from my child")),
        (DELETION, _("the deletion of my child's account and data")),
        (STOP, _("stopping the further collection and use of my child's information")),
    )


def school_recipients(record: ConsentRecord) -> list[str]:
    """The school's contact, its administrators and the teachers of the child's classes."""
    assert record.school is not None
    admins = SchoolMembership.objects.filter(school=record.school, role=SchoolMembership.Role.ADMIN).exclude(
        user__email=""
    )
    found = [record.school.contact_email]
    found += list(admins.values_list("user__email", flat=True))
    for contacts in hooks.school_contacts:  # grading: the teachers of the child's classes
        found += list(contacts(school=record.school, child_id=record.child_id))
    return sorted({address.lower() for address in found if address})


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
    from .tasks import school_request_send_task

    transaction.on_commit(
        partial(
            school_request_send_task.delay,
            record.child_id,
            record.school_id,
            parent_email,
            request_kind,
            message[:2000],
        )
    )
    return recipients


def school_request_by_login(*, login: str, parent_email: str, request_kind: str, message: str, client_ip: str) -> None:
    """A parent without portal access names the student's login: if a school registered that account, the
    request goes to the school (and the ledger). Answers the same either way; rate limited like sign-in links."""
    _rate_limit(email=parent_email, client_ip=client_ip)
    record = (
        ConsentRecord.objects.select_related("school")
        .filter(method=ConsentMethod.SCHOOL, child__username__iexact=login.strip())
        .first()
    )
    if record is not None:
        school_request_send(
            record=record, parent_email=_normal(parent_email), request_kind=request_kind, message=message
        )


def ledger_for_child(record: ConsentRecord) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(subject=ledger.child_pseudonym(record.child_id)).order_by("seq")


# --- age-up: the child reaches the age of consent of their rule -----------------------------------------------
BATCH_SIZE = 1000
AGE_UP_SESSION_KEY = "consent_age_up_due"


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


def age_up_due(user: Any) -> bool:
    return ParentalControl.objects.filter(
        record__child_id=user.pk, age_up_due_at__isnull=False, ended_at__isnull=True
    ).exists()


def age_up_on_login_receiver(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: a child who reached the age of consent is asked to accept the policy first."""
    if request is not None and hasattr(request, "session") and age_up_due(user):
        request.session[AGE_UP_SESSION_KEY] = True


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
        User.objects.filter(pk=child.pk).update(is_active=True)
    ledger.record_event(
        kind="aged_up", record=record, actor="child", detail={"policy_accepted": accepted_version}, now=now
    )
    from .tasks import age_up_parent_send_task

    for address in guardian_emails(record):
        transaction.on_commit(partial(age_up_parent_send_task.delay, address, child.pk))
    return record


# --- stronger verification: a separate consent for a non-integral third party (2025 COPPA amendment) -------
def disclosure_consent_grant(
    *,
    record: ConsentRecord,
    parent_email: str,
    third_party: ThirdParty,
    method: str,
    nonce: str = "",
    now: datetime.datetime | None = None,
) -> DisclosureConsent:
    """The parent consents to disclosing the child's data to ``third_party``: only by a zero-amount card check.

    Email plus is refused for it. The card check runs before the transaction (a network call); nothing is
    recorded unless Braintree verified the card. Idempotent for an existing consent.
    """
    _email_plus(record)
    if third_party.integral or not third_party.active:
        raise ValidationError(_("No separate consent is needed for this provider."), code="not_needed")
    if method != DisclosureConsent.Method.CARD_CHECK:
        raise ValidationError(
            _(
                "Sharing your child's data with %(name)s needs a stronger proof that you are the parent than "
                "an email: a card check (nothing is charged)."
            )
            % {"name": third_party.name},
            code="method",
        )
    existing = DisclosureConsent.objects.filter(record=record, third_party=third_party).first()
    if existing is not None:
        return existing
    if not nonce:
        raise ValidationError(_("Please enter your card details for the check."), code="nonce")
    verification = hooks.card_verify.implementation()(nonce=nonce)  # billing; ValidationError if unavailable
    if not verification.success:
        raise ValidationError(
            _("Your card could not be verified. Nothing was recorded; please try another card."), code="declined"
        )
    now = now or timezone.now()
    with transaction.atomic():
        consent, created = DisclosureConsent.objects.get_or_create(
            record=record,
            third_party=third_party,
            defaults={
                "method": DisclosureConsent.Method.CARD_CHECK,
                "verification_ref": verification.verification_id[:64],
                "granted_at": now,
            },
        )
        if created:
            ledger.record_event(
                kind="granted",
                record=record,
                actor=_actor(record, parent_email),
                detail={"disclosure_to": third_party.name, "verification": DisclosureConsent.Method.CARD_CHECK},
                now=now,
            )
    return consent
