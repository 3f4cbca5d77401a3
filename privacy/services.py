"""Writes of the privacy operations: roles, the access log, retention, policy acceptance, notices."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from consent.models import ConsentMethod, ConsentRecord
from mindomo import bulk
from mindomo.privacy import RetentionRule, registry

from .models import AccessLog, Notice, NoticeDelivery, PolicyAcceptance, PolicyVersion
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
    from django.core.cache import cache

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
    from django.core.cache import cache

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
@transaction.atomic
def notice_send(*, notice: Notice) -> int:
    """Queue one delivery per active user with an email address (set-based), then send in batches."""
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if notice.state != Notice.State.DRAFT:
        raise ValidationError(_("This notice has already been sent."))
    recipients = User.objects.filter(is_active=True).exclude(email="").values_list("pk", flat=True).order_by("pk")
    created = 0
    batch: list[NoticeDelivery] = []
    for user_id in recipients.iterator(chunk_size=BATCH_SIZE):
        batch.append(NoticeDelivery(notice=notice, user_id=user_id))
        if len(batch) >= BATCH_SIZE:
            created += len(NoticeDelivery.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        created += len(NoticeDelivery.objects.bulk_create(batch, ignore_conflicts=True))
    notice.state = Notice.State.SENDING
    notice.sent_at = timezone.now()
    notice.save(update_fields=["state", "sent_at"])
    from .tasks import notice_deliver_batch_task

    transaction.on_commit(lambda: notice_deliver_batch_task.delay(notice.pk))
    return created


def notice_deliver_batch(*, notice_id: int) -> int:
    """One batch of a notice's pending deliveries handed to the outbox (each email recorded in the same
    transaction that marks its delivery queued); the next batch follows after NOTICE_BATCH_INTERVAL."""
    from . import emails
    from .tasks import notice_deliver_batch_task

    queued = 0
    with transaction.atomic():
        batch = list(
            NoticeDelivery.objects.select_for_update(skip_locked=True)
            .filter(notice_id=notice_id, state=NoticeDelivery.State.PENDING)
            .select_related("user", "notice")
            .order_by("pk")[: settings.NOTICE_BATCH_SIZE]
        )
        for delivery in batch:
            delivery.attempts += 1
            delivery.email = emails.send_notice(notice=delivery.notice, user=delivery.user)
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
def policy_publish(*, version: PolicyVersion) -> None:
    """After a material change, parents who consented for children are asked to consent again."""
    policy_state_forget()
    if version.material:
        from .tasks import policy_parents_notify_task

        transaction.on_commit(lambda: policy_parents_notify_task.delay(version.pk))


RECONSENT_SALT = "privacy.policy-reconsent"
RECONSENT_MAX_AGE = 60 * 60 * 24 * 30


def policy_parents_notify(*, version: PolicyVersion) -> int:
    """Email each parent (once, whatever the number of children) a signed link to re-consent."""
    from django.core import signing
    from django.db.models import Count, Max
    from django.urls import reverse

    from . import emails

    parents = (
        ConsentRecord.objects.filter(method=ConsentMethod.EMAIL_PLUS, child__is_active=True)
        .exclude(parent_email="")
        .exclude(child__policy_acceptances__version=version)
        .values("parent_email")
        .annotate(children=Count("pk"), language=Max("parent_language"))
        .order_by("parent_email")
    )
    sent = 0
    for row in parents.iterator(chunk_size=BATCH_SIZE):
        token = signing.dumps({"e": row["parent_email"].lower(), "v": version.pk}, salt=RECONSENT_SALT)
        link = settings.SITE_URL + reverse("privacy:policy_reconsent", kwargs={"token": token})
        emails.send_policy_reconsent(
            parent_email=row["parent_email"],
            version=version,
            link=link,
            children=row["children"],
            language=row["language"],
        )
        sent += 1
    return sent


def policy_reconsent_children(*, token: str) -> tuple[PolicyVersion, list[User]]:
    """The version and the children a parent's re-consent link covers; ValidationError when it is not valid."""
    from django.core import signing

    try:
        payload = signing.loads(token, salt=RECONSENT_SALT, max_age=RECONSENT_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise ValidationError(_("This link has expired. We will email a new one."), code="expired") from exc
    except signing.BadSignature as exc:
        raise ValidationError(_("This link is not valid. Please use the link from our email."), code="invalid") from exc
    version = PolicyVersion.objects.filter(pk=payload.get("v")).first()
    if version is None:
        raise ValidationError(_("This link is not valid. Please use the link from our email."), code="invalid")
    children = list(
        User.objects.filter(
            consent_record__method=ConsentMethod.EMAIL_PLUS,
            consent_record__parent_email__iexact=payload.get("e", ""),
            is_active=True,
        ).order_by("pk")
    )
    return version, children


@transaction.atomic
def policy_reconsent(*, token: str) -> int:
    version, children = policy_reconsent_children(token=token)
    for child in children:
        PolicyAcceptance.objects.get_or_create(user=child, version=version, defaults={"by_guardian": True})
    return len(children)


# --- staff browsers (privacy.staff_security) ---------------------------------------------------------------
def _browser_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def staff_browser_signed_in(*, user: User, token: str, user_agent: str) -> str:
    """A staff member signed in with the browser holding ``token`` (may be empty). Returns the token the
    browser keeps. A browser not yet known for this account is recorded and the staff member is emailed."""
    import secrets

    from . import emails
    from .models import StaffBrowser

    now = timezone.now()
    if token and StaffBrowser.objects.filter(user=user, token_hash=_browser_hash(token)).update(last_seen_at=now):
        return token
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        StaffBrowser.objects.create(user=user, token_hash=_browser_hash(token), last_seen_at=now)
        if user.email:  # through the outbox, in this transaction
            emails.send_staff_new_browser(to=user.email, user=user, when=now, user_agent=user_agent[:200])
    return token
