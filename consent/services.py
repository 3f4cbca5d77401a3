"""Writes on consent: age decisions, sealed pending child sign-ups, the parent's answer, expiry,
school consent and age-rule revisions. Views, admin, tasks and commands call these."""

from __future__ import annotations

import datetime
import json
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from allauth.account.models import EmailAddress
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from kombu.exceptions import OperationalError

from accounts import services as account_services
from accounts.models import User
from mindomo import bulk
from mindomo import cache as shared_cache
from mindomo.i18n import current_language
from mindomo.outbox import services as outbox
from schools.models import School, SchoolMembership

from . import emails, hooks, ledger, selectors
from . import emails as consent_emails  # for the functions whose argument ``emails`` hides the module's name
from .age_gate import Decision
from .models import (
    AgeDecision,
    AgeOutcome,
    AgeRule,
    ConsentMethod,
    ConsentRecord,
    DisclosureConsent,
    Guardian,
    LedgerEntry,
    ParentalControl,
    PendingSignup,
    ThirdParty,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

BATCH_SIZE = 1000
BULK_BATCH_SIZE = bulk.BATCH_SIZE


class ConsentLinkError(ValidationError):
    """A parent's link that cannot be used. ``code`` says why: damaged, expired, answered, approved."""


# --- keyed hashes and the seal ------------------------------------------------------------------------
def policy_version_in_force() -> str:
    """The privacy policy version a consent given now rests on: the one privacy publishes as in force
    (``hooks.policy_version``), or CONSENT_POLICY_VERSION when no version is published."""

    found = hooks.policy_version.implementation()() if len(hooks.policy_version) else ""
    return found or settings.CONSENT_POLICY_VERSION


def login_digest(login: str) -> str:
    """Keyed hash (HMAC-SHA256 with a key derived from SECRET_KEY) reserving a login while it is pending."""
    return salted_hmac("consent.pending.login", login.strip().casefold(), algorithm="sha256").hexdigest()


def request_ref(public_id: str) -> str:
    return salted_hmac("consent.request.ref", public_id, algorithm="sha256").hexdigest()


def parent_digest(parent_email: str) -> str:
    return salted_hmac("consent.parent.email", parent_email.strip().casefold(), algorithm="sha256").hexdigest()


def _unseal(pending: PendingSignup, key: str) -> dict[str, str]:
    try:
        data: Any = json.loads(Fernet(key.encode()).decrypt(pending.sealed.encode()))
        return {"login": str(data["login"]), "password": str(data["password"])}
    except (InvalidToken, ValueError, TypeError, KeyError) as exc:
        raise ConsentLinkError(_("This link is damaged or belongs to another request."), code="damaged") from exc


def _gone(public_id: str) -> ConsentLinkError:
    if ConsentRecord.objects.filter(request_ref=request_ref(public_id)).exists():
        return ConsentLinkError(
            _("This request was already approved. The account is active; nothing more to do."), code="approved"
        )
    return ConsentLinkError(
        _("This request is no longer open: it was already answered or it expired."), code="answered"
    )


# --- age decisions ------------------------------------------------------------------------------------
@transaction.atomic
def age_decision_record(*, user: User, decision: Decision, now: datetime.datetime | None = None) -> AgeDecision:
    """Keep the age gate's decision for a new account (never the birth date)."""
    record, _created = AgeDecision.objects.update_or_create(
        user=user,
        defaults={
            "outcome": decision.outcome,
            "rule_id": decision.rule_id,
            "consent_month": decision.consent_month,
            "decided_at": now or timezone.now(),
        },
    )
    return record


# --- pending child sign-ups ---------------------------------------------------------------------------
def login_is_taken(login: str) -> bool:
    login = login.strip()
    return (
        User.objects.filter(Q(username__iexact=login) | Q(email__iexact=login)).exists()
        # allauth stores addresses lower-cased (EmailAddress.save): an exact match on its indexed column
        or EmailAddress.objects.filter(email=login.lower()).exists()
        or PendingSignup.objects.filter(login_digest=login_digest(login)).exists()
    )


def _count_parent_email(parent_email: str, *, now: datetime.datetime) -> None:
    """At most CONSENT_EMAILS_PER_PARENT_PER_DAY consent emails to one address per day (shared cache). The cap
    protects the parent: while Redis is down it fails closed (nothing is sent, the child is asked to retry)."""
    key = f"consent:parent-mails:{parent_digest(parent_email)}:{now.date().isoformat()}"
    try:
        sent = shared_cache.count(key, timeout=60 * 60 * 25)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if sent > settings.CONSENT_EMAILS_PER_PARENT_PER_DAY:
        raise ValidationError(
            _("Too many requests have been sent to this parent's address today. Please try again tomorrow."),
            code="parent_limit",
        )


@dataclass(frozen=True)
class SealedRequest:
    public_id: str
    key: str


def pending_signup_create(
    *, login: str, password: str, parent_email: str, decision: Decision, now: datetime.datetime | None = None
) -> SealedRequest:
    """Seal a child's sign-up and have the parent emailed (after commit). Returns the link's parts."""
    now = now or timezone.now()
    login = login.strip()
    parent_email = parent_email.strip()
    if not decision.is_child or decision.consent_month is None:
        raise ValidationError(_("This sign-up does not need a parent's consent."), code="not_child")
    if parent_email.casefold() == login.casefold():
        raise ValidationError(_("Your parent's email address must be different from yours."), code="same_email")
    if login_is_taken(login):
        raise ValidationError(_("This username or email address is already taken."), code="login_taken")
    key = Fernet.generate_key().decode()
    sealed = Fernet(key.encode()).encrypt(json.dumps({"login": login, "password": make_password(password)}).encode())
    ttl = datetime.timedelta(seconds=settings.CONSENT_REQUEST_TTL)
    _count_parent_email(parent_email, now=now)
    try:
        with transaction.atomic():
            pending = PendingSignup.objects.create(
                public_id=secrets.token_urlsafe(18),
                login_digest=login_digest(login),
                sealed=sealed.decode(),
                parent_email=parent_email,
                country=decision.country,
                rule_id=decision.rule_id,
                consent_month=decision.consent_month,
                created_at=now,
                expires_at=now + ttl,
                reminder_due_at=now + ttl / 2,
                language=current_language(),
            )
            _ledger_pending(pending, ledger.Event(kind="requested", subject=pending.ledger_subject))
            _enqueue_request_email(pending.pk, key)
    except IntegrityError as exc:  # the same login reserved at the same moment
        raise ValidationError(_("This username or email address is already taken."), code="login_taken") from exc
    return SealedRequest(public_id=pending.public_id, key=key)


def _ledger_pending(pending: PendingSignup, event: ledger.Event, *, actor: str = "child") -> None:
    event.actor = event.actor if event.actor != ledger.SYSTEM else actor
    event.method = ConsentMethod.EMAIL_PLUS
    event.rule = AgeRule.objects.filter(pk=pending.rule_id).first()
    event.policy_version = policy_version_in_force()
    ledger.append([event])


def _enqueue_request_email(pending_id: int, key: str) -> None:
    """Publish the parent's email inside the caller's transaction, as its last step. The key lives only in this
    message: when the broker cannot take it (Redis down), the whole request is rolled back with a clear message
    rather than committed without a way to reach the parent. The task waits for the commit (it looks again a
    moment later when the row is not visible yet)."""
    # the tasks module imports this one at its top (a task calls a service): the other way round is a cycle.
    from .tasks import consent_request_send_task

    try:
        consent_request_send_task.delay(pending_id, key)
    except OperationalError as exc:
        raise shared_cache.unavailable_error() from exc


def pending_signup_resend(*, public_id: str, key: str, now: datetime.datetime | None = None) -> None:
    """Send the parent's email again (from the child's browser, which holds the key)."""
    now = now or timezone.now()
    with transaction.atomic():
        pending = PendingSignup.objects.select_for_update().filter(public_id=public_id).first()
        if pending is None:
            raise _gone(public_id)
        _unseal(pending, key)
        if pending.expires_at <= now:
            raise ConsentLinkError(_("This request has expired. Please sign up again."), code="expired")
        if pending.resend_count >= settings.CONSENT_RESEND_MAX:
            raise ValidationError(
                _("The email has already been sent again as many times as allowed."), code="resend_limit"
            )
        _count_parent_email(pending.parent_email, now=now)
        pending.resend_count += 1
        pending.save(update_fields=["resend_count"])
        _ledger_pending(pending, ledger.Event(kind="resent", subject=pending.ledger_subject))
        _enqueue_request_email(pending.pk, key)


@dataclass(frozen=True)
class OpenRequest:
    pending: PendingSignup
    login: str


def pending_signup_open(*, public_id: str, key: str, now: datetime.datetime | None = None) -> OpenRequest:
    """Read a request for the parent's page. Changes nothing (mail scanners open links)."""
    now = now or timezone.now()
    pending = PendingSignup.objects.filter(public_id=public_id).first()
    if pending is None:
        raise _gone(public_id)
    payload = _unseal(pending, key)
    if pending.expires_at <= now:
        raise ConsentLinkError(_("This request has expired. Nothing was kept."), code="expired")
    return OpenRequest(pending=pending, login=payload["login"])


def _lock_open(public_id: str, key: str, now: datetime.datetime) -> tuple[PendingSignup, dict[str, str]]:
    pending = PendingSignup.objects.select_for_update().filter(public_id=public_id).first()
    if pending is None:
        raise _gone(public_id)
    payload = _unseal(pending, key)
    if pending.expires_at <= now:
        raise ConsentLinkError(_("This request has expired. Nothing was kept."), code="expired")
    return pending, payload


def pending_signup_approve(
    *, public_id: str, key: str, guardian_confirmed: bool, now: datetime.datetime | None = None
) -> User:
    """The parent approves: the child's account is created, active, with the credentials the child chose."""
    now = now or timezone.now()
    if not guardian_confirmed:
        raise ValidationError(
            _("Please confirm that you are the child's parent or legal guardian."), code="not_confirmed"
        )
    with transaction.atomic():
        pending, payload = _lock_open(public_id, key, now)
        login = payload["login"]
        if User.objects.filter(Q(username__iexact=login) | (Q(email__iexact=login) & ~Q(email=""))).exists():
            raise ValidationError(
                _("This username was taken by someone else meanwhile. Your child can sign up again with another."),
                code="login_taken",
            )
        # An email login is verified by the child at first sign-in (mandatory verification).
        user = account_services.user_create_with_password_hash(
            login=login, password_hash=payload["password"], country=pending.country
        )
        account_services.user_language_set(user=user, language=pending.language)  # the language the child used
        age_decision_record(
            user=user,
            decision=Decision(
                outcome=AgeOutcome.CHILD,
                rule_id=pending.rule_id,
                country=pending.country,
                consent_month=pending.consent_month,
            ),
            now=pending.created_at,  # when the gate decided
        )
        record = ConsentRecord.objects.create(
            child=user,
            method=ConsentMethod.EMAIL_PLUS,
            parent_email=pending.parent_email,
            policy_version=policy_version_in_force(),
            rule_id=pending.rule_id,
            granted_at=now,
            request_ref=request_ref(public_id),
            # the parent is reading the approval page: their emails follow its language
            parent_language=current_language(),
        )
        ledger.adopt_pending_pseudonym(pending=pending, child_id=user.pk)
        ledger.record_event(
            kind="granted",
            record=record,
            actor=ledger.parent_pseudonym(child_id=user.pk, email=pending.parent_email),
            now=now,
        )
        outbox.deliveries_forget(references=[emails.pending_reference(pending.pk)])
        pending.delete()
        emails.send_consent_confirmation(record=record)
        emails.send_consent_follow_up(
            record=record, due_at=now + datetime.timedelta(seconds=settings.CONSENT_FOLLOW_UP_DELAY)
        )
    return user


def pending_signup_refuse(*, public_id: str, key: str, now: datetime.datetime | None = None) -> None:
    """The parent refuses: the sealed sign-up and the parent's address are deleted at once."""
    now = now or timezone.now()
    with transaction.atomic():
        pending, _payload = _lock_open(public_id, key, now)
        _ledger_pending(pending, ledger.Event(kind="refused", subject=pending.ledger_subject), actor="parent")
        outbox.deliveries_forget(references=[emails.pending_reference(pending.pk)])
        pending.delete()


def pending_signups_expired(now: datetime.datetime) -> QuerySet[PendingSignup]:
    """Pending sign-ups past their expiry at ``now`` (for the retention engine and the expiry below)."""
    return PendingSignup.objects.filter(expires_at__lte=now)


# The expiry's keyset: the (expires_at, id) index matches "expires_at <= now" (migration 0010).
EXPIRY_KEY = ("expires_at", "id")
EXPIRY_RETURNING = ("id", "ledger_subject")
# The expiry's runs (this service and the retention rule) take turns on this advisory lock, batch by batch,
# instead of locking each row (mindomo.bulk.delete_batch: why a parent's answer at the same moment stays safe).
EXPIRY_LOCK = 0x65787069  # "expi"


def _expired_emails_forget(gone: str) -> tuple[str, list[Any]]:
    """The expired requests' emails forgotten by the batch's own DELETE statement, from the ids it deleted."""
    return outbox.deliveries_forget_ctes(prefix=emails.pending_reference(""), keys=f"SELECT id FROM {gone}")  # noqa: S608


def _expired_emails_forget_after(batch: bulk.Batch) -> None:
    """The same, for a batch deleted without those CTEs: from the ids it returned, one statement more."""
    outbox.deliveries_forget(prefix=emails.pending_reference(""), keys=batch.text("id"))


def _expired_logged(batch: bulk.Batch) -> None:
    ledger.append(
        [
            ledger.packed_batch_event(
                kind="expired",
                joined=batch.text("ledger_subject"),
                method=ConsentMethod.EMAIL_PLUS,
                policy_version=settings.CONSENT_POLICY_VERSION,
            )
        ]
    )


# After a batch of expired requests was deleted, in the same transaction: the requests' reminder emails forgotten
# (in the batch's DELETE statement itself: its ids never come back) and one ledger entry for the whole batch (its
# subjects packed as the DELETE returned them, and their Merkle root, so each request's expiry stays provable:
# ``consent.ledger.subject_proof``).
pending_signups_expired_logged = bulk.InStatement(
    ctes=_expired_emails_forget,
    consumes=("id",),
    then=_expired_logged,
    otherwise=_expired_emails_forget_after,
)


def pending_signups_expire(*, now: datetime.datetime | None = None, batch_size: int = BULK_BATCH_SIZE) -> int:
    """Delete every pending sign-up past its expiry, parent email included: set-based and batched.

    Each batch is one ``DELETE ... RETURNING`` (keyset order on the expiry index; runs take turns on
    ``EXPIRY_LOCK``: idempotent, safe to run twice at once, and a parent answering while the batch runs either
    wins or finds the request gone; the same statement forgets the requests' emails in the outbox) plus one
    ledger append (``mindomo.bulk``, ``pending_signups_expired_logged``). The retention engine's rule
    "consent.pending_signups" runs the same delete. Returns how many this run deleted.
    """
    now = now or timezone.now()
    return bulk.delete_in_batches(
        pending_signups_expired(now),
        key=EXPIRY_KEY,
        size=batch_size,
        returning=EXPIRY_RETURNING,
        after_delete=pending_signups_expired_logged,
        lock=EXPIRY_LOCK,
    )


def _ledger_pending_batch(rows: list[dict[str, Any]], *, kind: str) -> None:
    """One ledger entry for the whole batch of requests (``ledger.batch_event``), in one append."""
    ledger.append(
        [
            ledger.batch_event(
                kind=kind,
                subjects=[row["ledger_subject"] for row in rows],
                method=ConsentMethod.EMAIL_PLUS,
                policy_version=policy_version_in_force(),
            )
        ]
    )


_LEDGER_FIELDS = ("pk", "ledger_subject")


def pending_signups_remind(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Mark the requests due for their one reminder (half the TTL) and queue the reminders (in the outbox, in
    the same transaction)."""
    now = now or timezone.now()
    queued = 0
    while True:
        with transaction.atomic():
            rows = list(
                PendingSignup.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(reminder_due_at__lte=now, expires_at__gt=now)
                .order_by("pk")
                .values(*_LEDGER_FIELDS)[:batch_size]
            )
            if not rows:
                return queued
            ids = [row["pk"] for row in rows]
            PendingSignup.objects.filter(pk__in=ids).update(reminder_due_at=None)
            _ledger_pending_batch(rows, kind="reminded")
            for pending in PendingSignup.objects.filter(pk__in=ids).only("pk", "parent_email", "expires_at"):
                emails.send_consent_reminder(pending=pending)
            queued += len(ids)


# --- consent records -----------------------------------------------------------------------------------


def _school_staff(user: User, school: School) -> bool:
    roles: Iterable[str] = (SchoolMembership.Role.ADMIN, SchoolMembership.Role.TEACHER)
    return bool(user.is_superuser) or SchoolMembership.objects.filter(school=school, user=user, role__in=roles).exists()


@transaction.atomic
def consent_record_school(*, child: User, school: School, granted_by: User) -> ConsentRecord:
    """A school registers a child: :func:`consent_records_school` for one child."""
    (record,) = consent_records_school(children=[child], school=school, granted_by=granted_by)
    return record


def _ledger_about(
    kind: str, subjects: list[str], *, detail: dict[str, Any], batch_detail: dict[str, Any], **fields: Any
) -> list[ledger.Event]:
    """One child: its own row (``detail``), as for any consent event. Several: one batch entry naming them all
    (their Merkle root, so each stays provable: ``consent.ledger.subject_proof``), with ``batch_detail``."""
    if len(subjects) == 1:
        return [ledger.Event(kind=kind, subject=subjects[0], detail=detail, **fields)]
    event = ledger.batch_event(kind=kind, subjects=subjects, **fields)
    event.detail.update(batch_detail)
    return [event]


@transaction.atomic
def consent_records_school(
    *, children: Sequence[User], school: School, granted_by: User, also: Sequence[ledger.Event] = ()
) -> list[ConsentRecord]:
    """A school registers children: consent limited to the educational context, naming the school (the one
    rule of a school's consent, for one child or a OneRoster batch of many).

    Idempotent for the same school; a child already under another consent gets a ValidationError.
    ``granted_by`` must be an administrator or teacher of the school (or a superuser). Set-based whatever
    the number of children: one read of their records, one INSERT, one ledger append (the child's own row for
    one child, one batch entry for several; ``also``, e.g. the parents the school gave, in the same append).
    Returns the records in the children's order.
    """
    if not _school_staff(granted_by, school):
        raise ValidationError(
            _("Only the school's administrators and teachers can register a child through the school."),
            code="not_school_staff",
        )
    existing = {
        record.child_id: record
        for record in ConsentRecord.objects.select_for_update().filter(child_id__in=[c.pk for c in children])
    }
    for record in existing.values():
        if record.method != ConsentMethod.SCHOOL or record.school_id != school.pk:
            raise ValidationError(_("This child's account already has a consent record."), code="already_consented")
    version, now = policy_version_in_force(), timezone.now()
    new = [
        ConsentRecord(
            child=child,
            method=ConsentMethod.SCHOOL,
            school=school,
            granted_by=granted_by,
            policy_version=version,
            granted_at=now,
        )
        for child in dict.fromkeys(children)
        if child.pk not in existing
    ]
    ConsentRecord.objects.bulk_create(new)
    events = list(also)
    if new:
        pseudonyms = ledger.child_pseudonyms([record.child_id for record in new])
        granted = _ledger_about(
            "granted",
            [pseudonyms[record.child_id] for record in new],
            detail={"school": school.pk},
            batch_detail={"school": school.pk},
            actor="school",
            method=ConsentMethod.SCHOOL,
            policy_version=version,
        )
        events = granted + events
    ledger.append(events, now=now)
    existing.update((record.child_id, record) for record in new)
    return [existing[child.pk] for child in children]


SCHOOL_GUARDIANS_MAX = 2


def _school_admin(user: User, school: School) -> bool:
    return (
        bool(user.is_superuser)
        or SchoolMembership.objects.filter(school=school, user=user, role=SchoolMembership.Role.ADMIN).exists()
    )


def school_guardian_emails_clean(emails: Iterable[str]) -> list[str]:
    """Up to two distinct, valid addresses (blank entries ignored), lower-cased; a ValidationError otherwise."""

    found: list[str] = []
    for raw in emails:
        email = " ".join((raw or "").split()).lower()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError as exc:
            raise ValidationError(
                _("%(email)s is not a valid email address."), code="invalid_email", params={"email": email}
            ) from exc
        if email not in found:
            found.append(email)
    if len(found) > SCHOOL_GUARDIANS_MAX:
        raise ValidationError(
            _("A student can have at most %(limit)d parents or guardians on record."),
            code="too_many",
            params={"limit": SCHOOL_GUARDIANS_MAX},
        )
    return found


@transaction.atomic
def school_guardians_set(*, child: User, school: School, actor: User, emails: Iterable[str]) -> list[str]:
    """A school administrator records the parents or guardians of a student the school registered (at most two).

    Each new address gets an email explaining that the school registered the child and how to open the parent
    portal, where it then sees the child's school, classes and grades. An address left out loses access at once
    (the portal looks children up through the guardian rows on every request). Returns the added addresses.
    """
    if not _school_admin(actor, school):
        raise ValidationError(
            _("Only the school's administrators can record a student's parents."), code="not_school_admin"
        )
    wanted = school_guardian_emails_clean(emails)
    record = (
        ConsentRecord.objects.select_for_update()
        .filter(child=child, method=ConsentMethod.SCHOOL, school=school)
        .first()
    )
    if record is None:
        raise ValidationError(
            _("Parents can be recorded only for students the school registered."), code="not_school_registered"
        )
    current = {g.email.lower(): g for g in Guardian.objects.filter(record=record)}
    for email, guardian in current.items():
        if email not in wanted:
            guardian.delete()
            ledger.record_event(
                kind="guardian_removed",
                record=record,
                actor="school",
                detail={"guardian": ledger.parent_pseudonym(child_id=child.pk, email=email)},
            )

    added = [email for email in wanted if email not in current]
    for email in added:
        # the school's language (the staff member's page) until the parent uses the portal in their own
        guardian = Guardian.objects.create(record=record, email=email, language=current_language())
        ledger.record_event(
            kind="guardian_added",
            record=record,
            actor="school",
            detail={"guardian": ledger.parent_pseudonym(child_id=child.pk, email=email)},
        )
        consent_emails.send_school_guardian_added(guardian=guardian)  # through the outbox, in this transaction
    return added


def school_students_registered(
    *, children: Sequence[User], school: School, actor: User, guardian_emails: Sequence[Iterable[str]] = ()
) -> None:
    """A school registered ``children`` (``schools.hooks.students_registered``; one child from the roster page's
    form, or a batch of a CSV upload or a OneRoster import): the school's consent and the parents' addresses it
    gave (``guardian_emails[i]`` for ``children[i]``), in the caller's transaction. Set-based: one INSERT per
    table, one ledger append (the children's consent and their parents'), and each parent's email (through the
    outbox) whatever the number of children."""
    wanted = [
        (child, school_guardian_emails_clean(emails))
        for child, emails in zip(children, guardian_emails or [()] * len(children), strict=True)
    ]
    wanted = [(child, emails) for child, emails in wanted if emails]
    if wanted and not _school_admin(actor, school):
        raise ValidationError(
            _("Only the school's administrators can record a student's parents."), code="not_school_admin"
        )
    pairs = [(child.pk, email) for child, emails in wanted for email in emails]
    parents = ledger.parent_pseudonyms(pairs)
    subjects = ledger.child_pseudonyms([child.pk for child, _emails in wanted]) if wanted else {}
    also: list[ledger.Event] = []
    if len(wanted) == 1:  # one child: a row per parent, as the roster page's "Parents of" form writes
        also = [
            ledger.Event(
                kind="guardian_added",
                subject=subjects[child_id],
                actor="school",
                method=ConsentMethod.SCHOOL,
                detail={"guardian": parents[(child_id, email)]},
            )
            for child_id, email in pairs
        ]
    elif wanted:
        also = _ledger_about(
            "guardian_added",
            [subjects[child.pk] for child, _emails in wanted],
            detail={},
            batch_detail={"guardians": sorted(parents[pair] for pair in pairs)},
            actor="school",
            method=ConsentMethod.SCHOOL,
        )
    records = consent_records_school(children=children, school=school, granted_by=actor, also=also)
    by_child = {record.child_id: record for record in records}
    language = current_language()  # the school's (the staff member's page) until the parent uses the portal
    guardians = [
        Guardian(record=by_child[child.pk], email=email, language=language)
        for child, emails in wanted
        for email in emails
    ]
    Guardian.objects.bulk_create(guardians)
    consent_emails.send_school_guardians_added(guardians=guardians)  # through the outbox, in this transaction


def school_guardians_of(*, child: User) -> list[str]:
    """The parents' addresses a school recorded for a student it registered."""
    return list(
        Guardian.objects.filter(record__child=child, record__method=ConsentMethod.SCHOOL)
        .order_by("pk")
        .values_list("email", flat=True)
    )


# --- age rules (privacy staff, through the admin) ---------------------------------------------------
@transaction.atomic
def age_rule_revise(
    *,
    rule: AgeRule,
    age: int,
    legal_source: str,
    effective_from: datetime.date,
    needs_legal_review: bool,
    now: datetime.datetime | None = None,
) -> AgeRule:
    """Supersede a rule with its next version. Decisions keep pointing at the version they used."""
    current = AgeRule.objects.select_for_update().get(pk=rule.pk)
    if current.superseded_at is not None:
        raise ValidationError(_("Only the current version of a rule can be revised."), code="superseded")
    current.superseded_at = now or timezone.now()
    current.save(update_fields=["superseded_at"])
    return AgeRule.objects.create(
        country=current.country,
        subdivision=current.subdivision,
        age=age,
        legal_source=legal_source,
        effective_from=effective_from,
        needs_legal_review=needs_legal_review,
        version=current.version + 1,
    )


@transaction.atomic
def age_rule_create(
    *,
    country: str,
    subdivision: str,
    age: int,
    legal_source: str,
    effective_from: datetime.date,
    needs_legal_review: bool,
) -> AgeRule:
    country = country.strip().upper()
    subdivision = subdivision.strip().upper()
    if subdivision and not subdivision.startswith(country + "-"):
        raise ValidationError(_("A subdivision code starts with its country code, as in CA-QC."), code="subdivision")
    if AgeRule.objects.filter(country=country, subdivision=subdivision, superseded_at__isnull=True).exists():
        raise ValidationError(_("This jurisdiction already has a rule: revise it instead."), code="exists")
    rule = AgeRule(
        country=country,
        subdivision=subdivision,
        age=age,
        legal_source=legal_source,
        effective_from=effective_from,
        needs_legal_review=needs_legal_review,
        version=1,
    )
    rule.full_clean()
    rule.save()
    return rule


# --- a material change of the privacy policy (privacy's re-consent calls these) ------------------------------
@transaction.atomic
def child_pause_for_policy(*, child_id: int, policy_version: str, now: datetime.datetime | None = None) -> bool:
    """No parent agreed to a material change of the privacy policy in time: the child's account is paused
    (no sign-in, sessions end, nothing new is collected) until a parent agrees. False when there is nothing to
    pause (no parent's consent, parental control ended, already paused)."""

    now = now or timezone.now()
    record = (
        ConsentRecord.objects.select_for_update()
        .select_related("child")
        .filter(child_id=child_id, method=ConsentMethod.EMAIL_PLUS)
        .first()
    )
    if record is None:
        return False
    control, _created = ParentalControl.objects.get_or_create(record=record)
    if control.ended_at is not None or control.policy_paused_at is not None:
        return False
    control.policy_paused_at = now
    control.save(update_fields=["policy_paused_at"])
    account_services.user_suspend(user=record.child)
    ledger.record_event(
        kind="suspended",
        record=record,
        detail={"reason": "policy_not_accepted", "policy_version": policy_version},
        now=now,
    )
    return True


@transaction.atomic
def child_resume_after_policy(
    *, child_id: int, policy_version: str, parent_email: str, now: datetime.datetime | None = None
) -> bool:
    """A parent agreed to the policy: a child paused for it works again (unless a parent also stopped
    collection in the portal, which only that parent's resume undoes). False when it was not paused."""

    record = ConsentRecord.objects.select_related("child").filter(child_id=child_id).first()
    if record is None:
        return False
    control = ParentalControl.objects.select_for_update().filter(record=record).first()
    if control is None or control.policy_paused_at is None:
        return False
    control.policy_paused_at = None
    control.save(update_fields=["policy_paused_at"])
    if control.suspended_at is None and control.ended_at is None:
        account_services.user_resume(user=record.child)
    ledger.record_event(
        kind="resumed",
        record=record,
        actor=ledger.parent_pseudonym(child_id=record.child_id, email=parent_email),
        detail={"reason": "policy_accepted", "policy_version": policy_version},
        now=now,
    )
    return True


@transaction.atomic
def school_class_access_record(
    *, child: User, school: School, class_name: str, parent_email: str, approved: bool
) -> None:
    """A parent's answer to their child's request to join a school's class, in the consent ledger (by the
    parent's pseudonym). Raises ValidationError when the address is not one of the child's parents."""
    record = (
        ConsentRecord.objects.select_for_update(of=("self",))
        .filter(child_id=child.pk, method=ConsentMethod.EMAIL_PLUS)
        .exclude(control__ended_at__isnull=False)
        .first()
    )
    allowed = {email.lower() for email, _language in selectors.parents_to_ask(child=child)}
    if record is None or parent_email.lower() not in allowed:
        raise ValidationError(_("Only a parent of this child can answer."), code="not_parent")
    ledger.record_event(
        kind=LedgerEntry.Kind.CLASS_APPROVED if approved else LedgerEntry.Kind.CLASS_DECLINED,
        record=record,
        actor=ledger.parent_pseudonym(child_id=child.pk, email=parent_email),
        detail={"school": school.pk, "class": class_name},
    )


# --- children's accounts nobody uses (COPPA 312.10): announced, then erased -----------------------------------
def _under_consent() -> Q:
    """Consent records that still decide for a child: a parent's (parental control not ended) or a school's."""
    return Q(method=ConsentMethod.SCHOOL) | (
        Q(method=ConsentMethod.EMAIL_PLUS) & (Q(control__isnull=True) | Q(control__ended_at__isnull=True))
    )


def _unused_since(cutoff: datetime.datetime, prefix: str = "child__") -> Q:
    """The account has not been signed in to since ``cutoff`` (never signed in: joined before it)."""
    return Q(**{f"{prefix}last_login__lt": cutoff}) | (
        Q(**{f"{prefix}last_login__isnull": True}) & Q(**{f"{prefix}date_joined__lt": cutoff})
    )


def children_inactive_to_announce(now: datetime.datetime) -> QuerySet[ConsentRecord]:
    """Children's and school-registered accounts unused for CHILD_INACTIVITY_DAYS and not yet announced (or
    announced before a sign-in that came since)."""
    cutoff = now - datetime.timedelta(days=settings.CHILD_INACTIVITY_DAYS)
    not_told = (
        Q(control__isnull=True)
        | Q(control__inactivity_notice_at__isnull=True)
        | Q(control__inactivity_notice_at__lt=F("child__last_login"))
    )
    return ConsentRecord.objects.filter(_under_consent() & _unused_since(cutoff) & not_told)


def children_inactivity_announce(*, now: datetime.datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Tell each such child's parent and second guardian (or the school's contacts and the parents it recorded)
    the date the account will be erased unless someone signs in; record when. Batches; idempotent."""
    from .models import ParentalControl

    now = now or timezone.now()
    erase_on = now + datetime.timedelta(days=settings.CHILD_INACTIVITY_NOTICE_DAYS)
    told = 0
    while True:
        with transaction.atomic():
            records = list(
                children_inactive_to_announce(now)
                .select_related("child", "school")
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")[:batch_size]
            )
            if not records:
                return told
            for record in records:
                control, _created = ParentalControl.objects.get_or_create(record=record)
                control.inactivity_notice_at = now
                control.save(update_fields=["inactivity_notice_at"])
                for to, language in _inactivity_recipients(record):
                    emails.send_inactivity_notice(
                        to=to,
                        child=record.child,
                        erase_on=erase_on,
                        school=record.school,
                        language=language,
                    )
                told += 1


def _inactivity_recipients(record: ConsentRecord) -> list[tuple[str, str]]:
    """Who is told about this child's unused account: the consenting parent and the guardians; for a school's
    student, the school's contact and administrators and the parents the school recorded."""
    found: dict[str, tuple[str, str]] = {}
    if record.method == ConsentMethod.EMAIL_PLUS and record.parent_email:
        found[record.parent_email.lower()] = (record.parent_email, record.parent_language)
    if record.method == ConsentMethod.SCHOOL and record.school is not None:
        contacts = [record.school.contact_email]
        contacts += list(
            SchoolMembership.objects.filter(school=record.school, role=SchoolMembership.Role.ADMIN)
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
        for address in contacts:
            if address:
                found.setdefault(address.lower(), (address, ""))
    for email, language in record.guardians.values_list("email", "language"):
        found.setdefault(email.lower(), (email, language))
    return sorted(found.values())


def inactive_children_expired(now: datetime.datetime) -> QuerySet[User]:
    """The retention rule's rows: accounts announced CHILD_INACTIVITY_NOTICE_DAYS ago with no sign-in since."""
    announced_before = now - datetime.timedelta(days=settings.CHILD_INACTIVITY_NOTICE_DAYS)
    records = ConsentRecord.objects.filter(
        _under_consent(),
        control__inactivity_notice_at__lte=announced_before,
    ).filter(Q(child__last_login__isnull=True) | Q(child__last_login__lt=F("control__inactivity_notice_at")))
    return User.objects.filter(pk__in=records.values("child_id"))


def inactive_children_erase(pks: list[Any]) -> int:
    """Erase each account through the one erasure pipeline (every provider's erase, with a reason that names
    no one). The retention engine calls it with a batch it has locked."""
    erased = 0
    for user in User.objects.filter(pk__in=pks):
        account_services.account_erase_now(
            user=user,
            requested_by="retention",
            reason=f"no sign-in for {settings.CHILD_INACTIVITY_DAYS} days; parent or school told "
            f"{settings.CHILD_INACTIVITY_NOTICE_DAYS} days before",
        )
        erased += 1
    return erased


# --- the disclosure gate ----------------------------------------------------------------------------------------
class DisclosureRefused(PermissionDenied):
    """The gate refused a disclosure: nothing may be sent (a page that meets it answers 403)."""


# The parental consent methods strong enough for a disclosure (the zero-amount card check of older rows is not).
DISCLOSURE_METHODS = (DisclosureConsent.Method.CARD_CHARGE, DisclosureConsent.Method.SIGNED_FORM)


def disclosure_authorize(
    *, third_party: str, subject: User | None, purpose: str, now: datetime.datetime | None = None
) -> DisclosureConsent | None:
    """The one gate every call to a third party passes before it sends anything: each module that talks to a
    provider is declared in ``consent.reference_data.INTEGRATIONS``, only those modules may import a network
    client, and those of a provider that is not integral call this (tests/consent/test_outbound.py checks both).

    ``subject``: the account whose personal data the call carries (None: nobody's, e.g. a payment form's token,
    or a person with no account here such as a parent proving consent with a card).

    A child's data (an account under a parent's or a school's consent, or a child by its age decision) goes to a
    provider that is not integral only while it may receive children's data (``ThirdParty.active``), collection
    is not stopped or paused, and a parent gave the separate consent for that provider by a strong method
    (``DisclosureConsent``: a card charge refunded at once, or a signed form staff approved); the disclosure is
    then appended to the consent ledger before the data leaves, and the consent returned. Anything else about a
    child raises :class:`DisclosureRefused` and records nothing. An adult's data, or nobody's, passes (None).
    """
    provider = ThirdParty.objects.filter(name=third_party).first()
    if provider is None:
        raise DisclosureRefused(f"{third_party!r} is not in the third-party registry")
    if subject is None or (provider.integral and provider.active):
        return None
    record = (
        ConsentRecord.objects.filter(child_id=subject.pk)
        .exclude(control__ended_at__isnull=False)
        .select_related("control")
        .first()
    )
    if record is None:
        if selectors.is_child_account(subject):  # a child without a consent record: nobody may consent for it
            raise DisclosureRefused(f"no parental consent covers account {subject.pk}")
        return None
    control = getattr(record, "control", None)
    if control is not None and (control.suspended_at or control.policy_paused_at):
        raise DisclosureRefused(f"collection is stopped for account {subject.pk}")
    if not provider.active:
        raise DisclosureRefused(f"{provider.name} does not receive children's data")
    consent = DisclosureConsent.objects.filter(
        record=record, third_party=provider, method__in=DISCLOSURE_METHODS
    ).first()
    if consent is None:
        raise DisclosureRefused(f"no separate parental consent to disclose account {subject.pk} to {provider.name}")
    ledger.record_event(
        kind=LedgerEntry.Kind.DISCLOSED,
        record=record,
        detail={"disclosure_to": provider.name, "purpose": purpose, "verification": consent.method},
        now=now,
    )
    return consent
