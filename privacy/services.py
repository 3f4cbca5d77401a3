"""Writes of the privacy operations: roles, the access log, retention, policy acceptance, notices."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Model, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from consent import services as consent_services
from consent.models import ConsentMethod, ConsentRecord, Guardian
from mindomo import bulk
from mindomo.privacy import RetentionRule, registry
from schools.models import School, SchoolMembership

from . import emails
from .models import AccessLog, Notice, NoticeDelivery, PolicyAcceptance, PolicyReconsent, PolicyVersion, StaffBrowser
from .roles import ALL, CUSTOM, ROLES

logger = logging.getLogger(__name__)

BATCH_SIZE = bulk.BATCH_SIZE
DEFAULT_ACTIONS = ("view", "add", "change", "delete")


# --- staff roles -------------------------------------------------------------------------------------
@transaction.atomic
def staff_roles_sync() -> dict[str, int]:
    """Create each role's group and give it exactly the permissions its grants name (idempotent)."""
    counts: dict[str, int] = {}
    for role in ROLES:
        group, _created = Group.objects.get_or_create(name=role.group)
        wanted = Q(pk__in=[])
        for grant in role.grants:
            scope = Q(content_type__app_label=grant.app_label)
            if grant.model != ALL:
                scope &= Q(content_type__model=grant.model)
            if grant.codenames:
                wanted |= scope & Q(codename__in=grant.codenames)
                continue
            if ALL in grant.actions:
                wanted |= scope
                continue
            actions = Q(pk__in=[])
            for action in grant.actions:
                if action == CUSTOM:
                    custom = Q()
                    for default in DEFAULT_ACTIONS:
                        custom &= ~Q(codename__startswith=f"{default}_")
                    actions |= custom
                else:
                    actions |= Q(codename__startswith=f"{action}_")
            wanted |= scope & actions
        permissions = list(Permission.objects.filter(wanted))
        group.permissions.set(permissions)
        counts[role.group] = len(permissions)
    return counts


# --- access log ----------------------------------------------------------------------------------------
def access_log_record(*, staff: User, action: str, obj: Model, subject_id: int | None) -> AccessLog:
    return AccessLog.objects.create(
        staff=staff,
        staff_label=staff.get_username(),
        action=action,
        model=obj._meta.label,
        object_id=str(obj.pk),
        subject_id=subject_id,
    )


def access_log_record_many(
    *, staff: User, action: str, model: str, rows: list[tuple[object, int | None]]
) -> list[AccessLog]:
    """``mindomo.audit.staff_accessed``: one row per record a staff member looked at outside the admin."""
    return AccessLog.objects.bulk_create(
        [
            AccessLog(
                staff=staff,
                staff_label=staff.get_username(),
                action=action,
                model=model,
                object_id=str(object_id),
                subject_id=subject_id,
            )
            for object_id, subject_id in rows
        ],
        batch_size=1000,
    )


# --- retention engine ------------------------------------------------------------------------------
@dataclass
class RetentionOutcome:
    rule: RetentionRule
    provider: str
    count: int = 0
    pks: list[Any] = field(default_factory=list)


def retention_apply(
    *, now: datetime | None = None, dry_run: bool = False, batch_size: int = BATCH_SIZE, rules: list[str] | None = None
) -> list[RetentionOutcome]:
    """Apply every provider's retention rules at ``now``: set-based, in batches, idempotent.

    A dry run lists, per rule, the primary keys the real run would delete at the same ``now``.
    """
    now = now or timezone.now()
    outcomes = []
    for provider, rule in registry.retention_rules():
        if rules and rule.name not in rules:
            continue
        outcome = RetentionOutcome(rule=rule, provider=provider.name)
        if dry_run:
            outcome.pks = list(rule.expired(now).order_by("pk").values_list("pk", flat=True))
            outcome.count = len(outcome.pks)
        else:
            outcome.count = _retention_purge(rule, now=now, batch_size=batch_size)
        outcomes.append(outcome)
    return outcomes


def _retention_purge(rule: RetentionRule, *, now: datetime, batch_size: int) -> int:
    """One rule: ``mindomo.bulk``'s batches (one DELETE ... RETURNING each, keyset order on the rule's
    index), or the rule's own ``purge`` for each batch of primary keys where it does more than delete."""
    if rule.purge is None:
        return bulk.delete_in_batches(
            rule.expired(now),
            key=rule.key,
            size=batch_size,
            returning=rule.returning,
            after_delete=rule.after_delete,
            bare=rule.bare,
            lock=rule.lock,
        )
    purge = rule.purge
    deleted = 0
    after: bulk.Key | None = None
    while True:
        with transaction.atomic():
            # one keyset statement chooses (and locks) the batch; a purge that de-identifies rather than
            # deletes leaves rows behind, which the keyset moves past
            chosen = list(
                bulk.keyset(rule.expired(now), key=rule.key, after=after)
                .select_for_update(skip_locked=True, of=("self",))
                .values_list("pk", *rule.key)[:batch_size]
            )
            if not chosen:
                return deleted
            deleted += purge([row[0] for row in chosen])
            after = tuple(chosen[-1][1:])
        logger.info("retention %s: %d rows so far", rule.name, deleted)


# --- privacy policy versions ---------------------------------------------------------------------
POLICY_CACHE_KEY = "privacy:policy-state"
POLICY_CACHE_SECONDS = 300


def policy_current() -> PolicyVersion | None:
    return PolicyVersion.objects.filter(effective_at__lte=timezone.now()).order_by("-effective_at").first()


def policy_state() -> tuple[int, datetime] | None:
    """(current version id, effective date of the version everyone must have accepted), cached.

    The required version is the latest material one in force, or the first version ever when no change
    was material. Cached briefly: the middleware asks on every request.
    """

    state = cache.get(POLICY_CACHE_KEY)
    if state is None:
        in_force = PolicyVersion.objects.filter(effective_at__lte=timezone.now())
        current = in_force.order_by("-effective_at").first()
        if current is None:
            return None
        required = (
            in_force.filter(material=True).order_by("-effective_at").first()
            or in_force.order_by("effective_at").first()
        )
        assert required is not None
        state = (current.pk, required.effective_at)
        # never cache past the moment a scheduled version comes into force
        upcoming = PolicyVersion.objects.filter(effective_at__gt=timezone.now()).order_by("effective_at").first()
        timeout = POLICY_CACHE_SECONDS
        if upcoming is not None:
            timeout = max(1, min(timeout, int((upcoming.effective_at - timezone.now()).total_seconds())))
        cache.set(POLICY_CACHE_KEY, state, timeout)
    return state


def policy_state_forget() -> None:

    cache.delete(POLICY_CACHE_KEY)


def policy_version_requiring_acceptance(user: User) -> PolicyVersion | None:
    """The version ``user`` must (re)accept, or None when their acceptances cover the required one."""
    state = policy_state()
    if state is None:
        return None
    current_pk, required_from = state
    if PolicyAcceptance.objects.filter(user=user, version__effective_at__gte=required_from).exists():
        return None
    return PolicyVersion.objects.get(pk=current_pk)


@transaction.atomic
def policy_accept(*, user: User, version: PolicyVersion | None = None) -> PolicyAcceptance:
    version = version or policy_current()
    if version is None:
        raise ValidationError(_("There is no privacy policy to accept yet."))
    acceptance, _created = PolicyAcceptance.objects.get_or_create(user=user, version=version)
    return acceptance


def policy_accept_on_sign_up(user: User) -> None:
    """A new account accepted the policy in force (accounts' sign-up forms and demo data), if there is one."""
    if policy_current() is not None:
        policy_accept(user=user)


def policy_version_in_force() -> str:
    """The version in force, by name ("" when none): consent records and ledger events name it."""
    version = policy_current()
    return version.version if version is not None else ""


def policy_accept_version(user: User) -> str:
    """The child taking over their account accepts the policy in force; the version accepted (for the ledger)."""
    return policy_accept(user=user).version.version


# --- notices to all users ------------------------------------------------------------------------
def notice_recipients() -> tuple[list[dict[str, Any]], int]:
    """Everyone a notice to all users must reach, one entry per address (lower case): every active account
    with an email; for children's accounts, the consenting parents and second guardians; for school-registered
    students, the schools' contacts and administrators and the parents schools recorded. Each entry counts the
    accounts without an email it speaks for. Also returns how many active accounts without an email have no one
    to reach them through."""

    found: dict[str, dict[str, Any]] = {}
    accounts = User.objects.filter(is_active=True).exclude(email="").order_by("pk").values_list("pk", "email")
    for user_id, email in accounts.iterator(chunk_size=BATCH_SIZE):
        found.setdefault(email.lower(), {"email": email, "via": "account", "covers": 0, "user": user_id})
    no_email = set(User.objects.filter(is_active=True, email="").values_list("pk", flat=True))
    reached: set[int] = set()
    parents = _records_under_parents().exclude(parent_email="")
    for child_id, email in parents.values_list("child_id", "parent_email"):
        entry = found.setdefault(email.lower(), {"email": email, "via": "parent", "covers": 0, "user": None})
        if child_id in no_email:
            entry["covers"] += 1
            reached.add(child_id)
    guardians = Guardian.objects.filter(record__in=_records_under_parents())
    for child_id, email in guardians.values_list("record__child_id", "email"):
        entry = found.setdefault(email.lower(), {"email": email, "via": "guardian", "covers": 0, "user": None})
        if child_id in no_email:
            reached.add(child_id)
    for key, entry in _school_recipients().items():
        if key in found:
            found[key]["covers"] += entry["covers"]
        else:
            found[key] = {**entry, "user": entry.get("user")}
    school_children = ConsentRecord.objects.filter(method=ConsentMethod.SCHOOL, child_id__in=no_email)
    reached |= set(school_children.exclude(school__contact_email="").values_list("child_id", flat=True))
    return list(found.values()), len(no_email - reached)


@transaction.atomic
def notice_send(*, notice: Notice) -> int:
    """Queue one delivery per recipient (notice_recipients: account holders, parents, guardians, school
    contacts), then hand them to the outbox in batches; each delivery is tracked per recipient."""
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if notice.state != Notice.State.DRAFT:
        raise ValidationError(_("This notice has already been sent."))
    recipients, unreached = notice_recipients()
    created = 0
    batch: list[NoticeDelivery] = []
    for recipient in recipients:
        batch.append(
            NoticeDelivery(
                notice=notice,
                user_id=recipient["user"] if recipient["via"] == "account" else None,
                address=recipient["email"],
                via=recipient["via"],
                covers=recipient["covers"],
            )
        )
        if len(batch) >= BATCH_SIZE:
            created += len(NoticeDelivery.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        created += len(NoticeDelivery.objects.bulk_create(batch, ignore_conflicts=True))
    notice.state = Notice.State.SENDING
    notice.sent_at = timezone.now()
    notice.unreached = unreached
    notice.save(update_fields=["state", "sent_at", "unreached"])
    # the tasks module imports this one at its top (a task calls a service): the other way round is a cycle.
    from .tasks import notice_deliver_batch_task

    transaction.on_commit(lambda: notice_deliver_batch_task.delay(notice.pk))
    return created


def notice_deliver_batch(*, notice_id: int) -> int:
    """One batch of a notice's pending deliveries handed to the outbox (each email recorded in the same
    transaction that marks its delivery queued); the next batch follows after NOTICE_BATCH_INTERVAL."""
    # the tasks module imports this one at its top (a task calls a service): the other way round is a cycle.
    from .tasks import notice_deliver_batch_task

    queued = 0
    with transaction.atomic():
        batch = list(
            NoticeDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(notice_id=notice_id, state=NoticeDelivery.State.PENDING)
            .select_related("user", "notice")
            .order_by("pk")[: settings.NOTICE_BATCH_SIZE]
        )
        for delivery in batch:
            delivery.attempts += 1
            delivery.email = emails.send_notice(delivery=delivery)
            delivery.state = NoticeDelivery.State.QUEUED
            delivery.sent_at = timezone.now()
            delivery.save(update_fields=["attempts", "state", "email", "sent_at"])
            queued += 1
    if NoticeDelivery.objects.filter(notice_id=notice_id, state=NoticeDelivery.State.PENDING).exists():
        notice_deliver_batch_task.apply_async((notice_id,), countdown=settings.NOTICE_BATCH_INTERVAL)
    else:
        Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).update(state=Notice.State.SENT)
    return queued


@transaction.atomic
def policy_publish(*, version: PolicyVersion, now: datetime | None = None) -> bool:
    """Publish ``version`` (once): adults are asked at their next visit (the middleware); after a material
    change, the parents of children under their consent (and the second guardians) are asked to agree again,
    and the schools' contacts and the parents schools recorded are told. False when it was already published."""
    now = now or timezone.now()
    locked = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    policy_state_forget()
    if locked.published_at is not None:
        return False
    locked.published_at = now
    locked.save(update_fields=["published_at"])
    version.published_at = now
    if locked.material:
        # the tasks module imports this one at its top (a task calls a service): the other way round is a cycle.
        from .tasks import policy_parents_notify_task

        transaction.on_commit(lambda: policy_parents_notify_task.delay(locked.pk))
    return True


RECONSENT_SALT = "privacy.policy-reconsent"
RECONSENT_MAX_AGE = 60 * 60 * 24 * 30


def _reconsent_link(*, email: str, version: PolicyVersion) -> str:

    token = signing.dumps({"e": email.lower(), "v": version.pk}, salt=RECONSENT_SALT)
    return settings.SITE_URL + reverse("privacy:policy_reconsent", kwargs={"token": token})


def _records_under_parents() -> Any:
    """Children whose parent gave consent (email plus) and who are still under parental control."""
    return ConsentRecord.objects.filter(method=ConsentMethod.EMAIL_PLUS).exclude(control__ended_at__isnull=False)


def _askers(child_ids: list[int]) -> dict[str, dict[str, Any]]:
    """Who may answer for these children, by address (lower case): each consenting parent and each second
    guardian, with the children they answer for and the language of their emails."""

    found: dict[str, dict[str, Any]] = {}
    records = ConsentRecord.objects.filter(child_id__in=child_ids).exclude(parent_email="")
    for child_id, email, language in records.values_list("child_id", "parent_email", "parent_language"):
        entry = found.setdefault(email.lower(), {"email": email, "children": set(), "language": language})
        entry["children"].add(child_id)
    guardians = Guardian.objects.filter(record__child_id__in=child_ids, record__method=ConsentMethod.EMAIL_PLUS)
    for child_id, email, language in guardians.values_list("record__child_id", "email", "language"):
        entry = found.setdefault(email.lower(), {"email": email, "children": set(), "language": language})
        entry["children"].add(child_id)
    return found


def policy_parents_notify(*, version: PolicyVersion, now: datetime | None = None) -> int:
    """After a material change: a re-consent row per child under a parent's consent who has not accepted the
    version, one email to each parent and second guardian (once, whatever the number of children) with a
    signed link, and a notice to each school's contacts and to the parents schools recorded. Idempotent."""

    now = now or timezone.now()
    child_ids = list(
        _records_under_parents()
        .exclude(child__policy_acceptances__version=version)
        .order_by("child_id")
        .values_list("child_id", flat=True)
    )
    new_rows = [PolicyReconsent(version=version, child_id=child_id, asked_at=now) for child_id in child_ids]
    created = PolicyReconsent.objects.bulk_create(new_rows, ignore_conflicts=True, batch_size=BATCH_SIZE)
    already = set(
        PolicyReconsent.objects.filter(version=version, child_id__in=child_ids)
        .exclude(asked_at=now)
        .values_list("child_id", flat=True)
    )
    ask = [child_id for child_id in child_ids if child_id not in already]
    sent = 0
    for asker in _askers(ask).values():
        with transaction.atomic():
            emails.send_policy_reconsent(
                parent_email=asker["email"],
                version=version,
                link=_reconsent_link(email=asker["email"], version=version),
                children=len(asker["children"]),
                language=asker["language"],
            )
        sent += 1
    sent += policy_schools_notify(version=version)
    logger.info("policy %s: %d children to re-consent (%d rows new), %d emails", version, len(ask), len(created), sent)
    return sent


def _school_recipients() -> dict[str, dict[str, Any]]:
    """Each address that speaks for school-registered children: the schools' contacts and administrators, and
    the parents the schools recorded, with how many students each covers (ones without an email included)."""

    found: dict[str, dict[str, Any]] = {}
    school_records = ConsentRecord.objects.filter(method=ConsentMethod.SCHOOL, child__is_active=True)
    per_school: dict[int, int] = {}
    for school_id in school_records.values_list("school_id", flat=True):
        per_school[school_id] = per_school.get(school_id, 0) + 1
    if not per_school:
        return found

    for school_id, contact in School.objects.filter(pk__in=per_school).values_list("pk", "contact_email"):
        if contact:
            entry = found.setdefault(contact.lower(), {"email": contact, "via": "school", "covers": 0, "user": None})
            entry["covers"] += per_school[school_id]
    admins = SchoolMembership.objects.filter(school_id__in=per_school, role=SchoolMembership.Role.ADMIN).exclude(
        user__email=""
    )
    for school_id, email, user_id in admins.values_list("school_id", "user__email", "user_id"):
        entry = found.setdefault(email.lower(), {"email": email, "via": "school", "covers": 0, "user": user_id})
        entry["covers"] += per_school[school_id]
    guardians = Guardian.objects.filter(record__in=school_records)
    for email, language in guardians.values_list("email", "language"):
        entry = found.setdefault(
            email.lower(), {"email": email, "via": "guardian", "covers": 0, "user": None, "language": language}
        )
        entry["covers"] += 1
    return found


def policy_schools_notify(*, version: PolicyVersion) -> int:
    """Tell the schools' contacts and the parents schools recorded that the policy changed (the school's
    consent covers its students; nothing is asked of them)."""

    sent = 0
    for recipient in _school_recipients().values():
        with transaction.atomic():
            emails.send_policy_changed(
                to=recipient["email"], version=version, via=recipient["via"], language=recipient.get("language", "")
            )
        sent += 1
    return sent


def policy_reconsent_followup(*, now: datetime | None = None) -> dict[str, int]:
    """Daily: one reminder POLICY_RECONSENT_DAYS after the parents were asked, then, POLICY_RECONSENT_DAYS after
    the reminder, the child's account is paused (collection stops, sessions end) until a parent agrees. Rows of
    children who meanwhile accepted (or left parental control) are closed. Set-based; idempotent."""

    now = now or timezone.now()
    wait = timedelta(days=settings.POLICY_RECONSENT_DAYS)
    open_rows = PolicyReconsent.objects.filter(answered_at__isnull=True)
    accepted = open_rows.filter(child__policy_acceptances__version_id=F("version_id"))
    closed = PolicyReconsent.objects.filter(pk__in=accepted.values("pk")).update(answered_at=now)
    left = open_rows.exclude(child__consent_record__in=_records_under_parents())
    closed += PolicyReconsent.objects.filter(pk__in=left.values("pk")).update(answered_at=now)

    reminded = 0
    due = list(
        open_rows.filter(reminded_at__isnull=True, asked_at__lte=now - wait).select_related("version").order_by("pk")
    )
    by_version: dict[int, list[PolicyReconsent]] = {}
    for row in due:
        by_version.setdefault(row.version_id, []).append(row)
    for rows in by_version.values():
        version = rows[0].version
        for asker in _askers([row.child_id for row in rows]).values():
            with transaction.atomic():
                emails.send_policy_reconsent(
                    parent_email=asker["email"],
                    version=version,
                    link=_reconsent_link(email=asker["email"], version=version),
                    children=len(asker["children"]),
                    language=asker["language"],
                    reminder=True,
                )
            reminded += 1
        PolicyReconsent.objects.filter(pk__in=[row.pk for row in rows]).update(reminded_at=now)

    paused = 0
    due = list(
        open_rows.filter(paused_at__isnull=True, reminded_at__lte=now - wait).select_related("version").order_by("pk")
    )
    for row in due:
        with transaction.atomic():
            if consent_services.child_pause_for_policy(
                child_id=row.child_id, policy_version=row.version.version, now=now
            ):
                paused += 1
                for asker in _askers([row.child_id]).values():
                    emails.send_policy_paused(
                        parent_email=asker["email"],
                        version=row.version,
                        link=_reconsent_link(email=asker["email"], version=row.version),
                        language=asker["language"],
                    )
            PolicyReconsent.objects.filter(pk=row.pk).update(paused_at=now)
    return {"closed": closed, "reminded": reminded, "paused": paused}


def policy_reconsent_children(*, token: str) -> tuple[PolicyVersion, list[User]]:
    """The version and the children a re-consent link covers (the consenting parent's, or a second guardian's);
    ValidationError when it is not valid."""

    try:
        payload = signing.loads(token, salt=RECONSENT_SALT, max_age=RECONSENT_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError(_("This link has expired. We will email a new one."), code="expired") from exc
    except signing.BadSignature as exc:
        raise ValidationError(_("This link is not valid. Please use the link from our email."), code="invalid") from exc
    version = PolicyVersion.objects.filter(pk=payload.get("v")).first()
    if version is None:
        raise ValidationError(_("This link is not valid. Please use the link from our email."), code="invalid")
    email = str(payload.get("e", ""))
    records = _records_under_parents().filter(Q(parent_email__iexact=email) | Q(guardians__email__iexact=email))
    children = list(User.objects.filter(pk__in=records.values("child_id")).order_by("pk"))
    return version, children


@transaction.atomic
def policy_reconsent(*, token: str, now: datetime | None = None) -> int:
    """A parent (or second guardian) agrees for every child the link covers: the acceptance is recorded, the
    re-consent closed, and a child paused for this version works again."""

    now = now or timezone.now()
    version, children = policy_reconsent_children(token=token)
    email = str(signing.loads(token, salt=RECONSENT_SALT, max_age=RECONSENT_MAX_AGE).get("e", ""))
    for child in children:
        PolicyAcceptance.objects.get_or_create(user=child, version=version, defaults={"by_guardian": True})
        rows = PolicyReconsent.objects.select_for_update().filter(
            version=version, child=child, answered_at__isnull=True
        )
        for row in rows:
            if row.paused_at is not None:
                consent_services.child_resume_after_policy(
                    child_id=child.pk, policy_version=version.version, parent_email=email, now=now
                )
            PolicyReconsent.objects.filter(pk=row.pk).update(answered_at=now)
    return len(children)


# --- staff browsers (privacy.staff_security) ---------------------------------------------------------------
def _browser_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def staff_browser_signed_in(*, user: User, token: str, user_agent: str) -> str:
    """A staff member signed in with the browser holding ``token`` (may be empty). Returns the token the
    browser keeps. A browser not yet known for this account is recorded and the staff member is emailed."""
    import secrets

    now = timezone.now()
    if token and StaffBrowser.objects.filter(user=user, token_hash=_browser_hash(token)).update(last_seen_at=now):
        return token
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        StaffBrowser.objects.create(user=user, token_hash=_browser_hash(token), last_seen_at=now)
        if user.email:  # through the outbox, in this transaction
            emails.send_staff_new_browser(to=user.email, user=user, when=now, user_agent=user_agent[:200])
    return token
