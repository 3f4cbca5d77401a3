"""Writes on accounts. Views, tasks and commands call these; they never save a user themselves."""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import IO, Any

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.utils import generate_unique_username
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mindomo import bulk, cascade, files, prepared, privacy
from mindomo import cache as shared_cache
from mindomo.i18n import supported
from mindomo.privacy import registry

from . import emails
from .exporting import write_archive
from .models import AccountDeletionRequest, DataExport, ErasureStep, SupportInquiry, User, UserSession
from .selectors import user_is_child_or_school_account
from .sessions import forget as sessions_forget

BATCH_SIZE = 1000


@transaction.atomic
def user_update_profile(*, user: User, first_name: str, last_name: str, country: str, product_updates: bool) -> User:
    user.first_name = first_name
    user.last_name = last_name
    user.country = country

    # children and school accounts receive no marketing email, whatever is posted
    user.product_updates = product_updates and not user_is_child_or_school_account(user)
    user.save(update_fields=["first_name", "last_name", "country", "product_updates"])
    return user


@transaction.atomic
def user_create_with_password_hash(*, login: str, password_hash: str, country: str) -> User:
    """An active account with the login and the (already hashed) password chosen elsewhere: a child's sealed
    sign-up that a parent approved. A login with an ``@`` is the email address, verified at first sign-in."""
    is_email = "@" in login
    user = User(username=login, email=login if is_email else "", country=country)
    user.password = password_hash
    user.save()
    if is_email:
        EmailAddress.objects.create(user=user, email=login, primary=True, verified=False)
    return user


@transaction.atomic
def user_create_verified(*, email: str, first_name: str, last_name: str, country: str, language: str = "") -> User:
    """An active account for an address another party proved the person holds: a school's Google or Microsoft
    sign-in that the school's administrators approved (schools). The address is verified and primary; there is
    no usable password (the person signs in with the school's account, or sets one through password reset)."""
    user = User(
        username=generate_unique_username([first_name, last_name, email, "teacher"]),
        email=email,
        first_name=first_name,
        last_name=last_name,
        country=country,
        language=supported(language) or "",
        product_updates=False,
    )
    user.set_unusable_password()
    user.save()
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


@transaction.atomic
def user_set_password(*, user: User, password: str) -> None:
    """Set a new password after Django's validators (a parent sets their child's)."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    password_validation.validate_password(password, user=locked)
    locked.set_password(password)
    locked.save(update_fields=["password"])
    user_sessions_end(user=locked)


@transaction.atomic
def user_suspend(*, user: User) -> None:
    """Deactivate the account until :func:`user_resume`: no sign-in, and every session of it ends for good (a
    later resume does not bring them back)."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user.is_active = False
    user_sessions_end(user=user)


def user_sessions_end(*, user: User, keep: str | None = None) -> int:
    """End every session of ``user``: one DELETE by user id in the session store (accounts.sessions), whether the
    session is live or expired. ``keep`` spares the session of the request that changed the password (Django
    re-keys it). Returns how many ended.

    Called when the account's state changes: suspension (a parent stopping collection, staff deactivating it),
    deletion, a new password set by anyone. A request of that account still in flight cannot save its session
    back: Django's store updates the row, finds it gone and answers 400 (SessionInterrupted).
    """
    ended: list[str] = []
    statement = user_sessions_end_statement(user=user, keep=keep, ended=ended)
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        rows = cursor.fetchall()
    assert statement.rows is not None
    statement.rows(rows)
    return len(ended)


def user_sessions_end_statement(
    *, user: User, keep: str | None = None, ended: list[str] | None = None
) -> privacy.Statement:
    """:func:`user_sessions_end` as a statement (the sessions provider's erasure sends it with the others): one
    DELETE ... RETURNING the keys, which its ``rows`` drops from the cache (and adds to ``ended``)."""
    sessions = UserSession.objects.filter(user_id=user.pk)
    if keep:
        sessions = sessions.exclude(session_key=keep)
    sql, params = sessions.values("session_key").query.sql_with_params()

    def forget(rows: list[tuple[Any, ...]]) -> None:
        keys = [row[0] for row in rows]
        if ended is not None:
            ended.extend(keys)
        # from the cache now and again after the commit: a request that read the row before the commit may have
        # put the session back in the cache meanwhile
        sessions_forget(keys)
        transaction.on_commit(lambda: sessions_forget(keys))

    return privacy.Statement(
        f"DELETE FROM {UserSession._meta.db_table} WHERE session_key IN ({sql}) RETURNING session_key",  # noqa: S608
        list(params),
        forget,
    )


def user_sessions_end_on_password_receiver(sender: Any, request: HttpRequest, user: User, **kwargs: Any) -> None:
    """allauth ``password_changed``, ``password_set`` and ``password_reset``: every other session of the account
    ends; the browser that changed the password stays signed in (if it was)."""
    session = getattr(request, "session", None)
    signed_in_here = getattr(request, "user", None) is not None and request.user.pk == user.pk
    user_sessions_end(user=user, keep=session.session_key if session is not None and signed_in_here else None)


@transaction.atomic
def user_resume(*, user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=True)
    user.is_active = True


def user_language_set(*, user: User, language: str) -> bool:
    """Store the language a person reads (their choice, or the one they used before choosing). False: unknown."""

    code = supported(language)
    if code is None:
        return False
    if user.language != code:
        user.language = code
        user.save(update_fields=["language"])
    return True


def user_language_on_sign_in_receiver(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """``user_logged_in``: a person who never chose a language keeps the one they signed in with, stored so
    that emails sent later (by beat tasks too) are written in it. A stored choice is left as it is."""
    # LocaleMiddleware set the language the person was reading; a sign-in outside a request (force_login,
    # scripts) has none and stores nothing.
    language = getattr(request, "LANGUAGE_CODE", "") if request is not None else ""
    if language and user.pk is not None and not user.language:
        user_language_set(user=user, language=language)


def socialaccount_minimize_receiver(sender: Any, instance: SocialAccount, **kwargs: Any) -> None:
    """pre_save guard: a linked account keeps the provider and its user id, never the provider's profile.

    The user's name and email were copied to the user at sign-up (accounts.adapters); nothing else
    from the provider is kept.
    """
    instance.extra_data = {}


def unverified_accounts_expired(now: Any) -> QuerySet[User]:
    """Sign-ups whose email was never verified within UNVERIFIED_ACCOUNT_TTL_DAYS (never used the service)."""
    cutoff = now - timedelta(days=settings.UNVERIFIED_ACCOUNT_TTL_DAYS)
    return (
        User.objects.filter(date_joined__lt=cutoff, last_login__isnull=True, is_staff=False)
        .filter(Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=False)))
        .exclude(Exists(EmailAddress.objects.filter(user=OuterRef("pk"), verified=True)))
        .exclude(Exists(SocialAccount.objects.filter(user=OuterRef("pk"))))
    )


UNVERIFIED_KEY = ("date_joined", "id")  # the partial index accounts_user_unverified_key


def unverified_accounts_deleted(batch: bulk.Batch) -> None:
    """After a batch of never-verified sign-ups was deleted (with their dependents): their sessions too,
    which hold a bare user id (one indexed DELETE)."""
    UserSession.objects.filter(user_id__in=[int(pk) for pk in batch.values("id")]).delete()


def unverified_accounts_purge(*, now: Any = None, batch_size: int = bulk.BATCH_SIZE) -> int:
    """Delete sign-ups whose email was never verified within UNVERIFIED_ACCOUNT_TTL_DAYS.

    Such a person never used the service; keeping their name and email would be collecting without
    purpose. Set-based, in keyset batches (``mindomo.bulk``; the retention rule runs the same), idempotent.
    Returns the number of users deleted.
    """
    return bulk.delete_in_batches(
        unverified_accounts_expired(now or timezone.now()),
        key=UNVERIFIED_KEY,
        size=batch_size,
        returning=("id",),
        after_delete=unverified_accounts_deleted,
    )


# --- Data subject rights: export, deletion, support ---------------------------------------------------

logger = logging.getLogger(__name__)

EXPORT_SUBDIR = "exports"
ACCOUNTS_PROVIDER = "accounts"


def export_stale_after() -> timedelta:
    """An export still pending or building this long after it was asked for is dead (its worker was killed or the
    queue lost it): no task runs longer than CELERY_TASK_TIME_LIMIT, so past twice that the person may ask again."""
    return timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)


def data_export_name(export: DataExport) -> str:
    """The archive's name in the file storage (mindomo.files: local files or object storage, shared by the
    worker that writes it and the web process that serves it); "" while there is none."""
    return f"{EXPORT_SUBDIR}/{export.file_name}" if export.file_name else ""


def data_export_open(export: DataExport, *, now: datetime | None = None) -> IO[bytes] | None:
    """The ready, unexpired archive opened for its owner's download, or None (not ready, expired, file gone)."""
    usable = (
        export.state == DataExport.State.READY
        and export.expires_at is not None
        and export.expires_at > (now or timezone.now())
    )
    return files.open_file(data_export_name(export)) if usable else None


@transaction.atomic
def data_export_request(*, user: User) -> DataExport:
    """Ask for a copy of everything we hold about ``user``; a Celery task builds it."""
    # the tasks module imports this one at its top (a task calls a service): the other way round is a cycle.
    from . import tasks

    User.objects.select_for_update().filter(pk=user.pk).first()  # one request at a time per user
    open_states = [DataExport.State.PENDING, DataExport.State.BUILDING]
    # An export whose worker died long ago (the task is idempotent and skips it) must not block a new one.
    DataExport.objects.filter(
        user=user, state__in=open_states, requested_at__lt=timezone.now() - export_stale_after()
    ).update(state=DataExport.State.FAILED, error="interrupted")
    if DataExport.objects.filter(user=user, state__in=open_states).exists():
        raise ValidationError(_("An export of your data is already being prepared."), code="export_open")
    export = DataExport.objects.create(public_id=uuid.uuid4(), user=user, parts_total=len(registry.providers()))
    transaction.on_commit(lambda: tasks.data_export_build_task.delay(export.pk))
    return export


# Builds of one export before it is given up as failed (the person may then ask again at once): a build that
# kills its worker every time (say, out of memory) is not started for ever.
EXPORT_BUILD_ATTEMPTS = 2


def _export_failed(export: DataExport) -> None:
    DataExport.objects.filter(pk=export.pk).update(
        state=DataExport.State.FAILED, error=gettext("The export could not be built. Please ask again.")
    )


def data_export_build(*, export_id: int, now: datetime | None = None) -> DataExport | None:
    """Collect every provider's export into a zip (one JSON per provider plus a readable index).

    Idempotent: a pending export is built, and so is one whose build started longer ago than
    ``CELERY_TASK_TIME_LIMIT`` (no task lives longer: its worker was killed), up to ``EXPORT_BUILD_ATTEMPTS``
    builds, after which it is ``failed``; a build in progress is left alone. Progress is committed after each
    provider so the owner's page can show it. A failure leaves a ``failed`` export and no file.
    """

    started = timezone.now()
    with transaction.atomic():
        export = DataExport.objects.select_for_update().filter(pk=export_id).select_related("user").first()
        if export is None or export.state not in (DataExport.State.PENDING, DataExport.State.BUILDING):
            return export
        if export.state == DataExport.State.BUILDING:
            lease = started - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
            if export.started_at is not None and export.started_at > lease:
                return export  # another build is running
            if export.attempts >= EXPORT_BUILD_ATTEMPTS:
                logger.error("data export %s: %s builds died, given up", export.pk, export.attempts)
                _export_failed(export)
                export.refresh_from_db()
                return export
        providers = registry.providers()
        export.state = DataExport.State.BUILDING
        export.parts_total = len(providers)
        export.parts_done = 0
        export.started_at = started
        export.attempts += 1
        export.save(update_fields=["state", "parts_total", "parts_done", "started_at", "attempts"])
    user = export.user
    # The archive is written to this worker's temporary file (unlinked at once: a killed build leaves nothing
    # behind) and stored in one save (mindomo.files), under a new unguessable name.
    try:  # everything that can fail is in here, the storage included: a failure leaves `failed`, never `building`
        documents = []
        for provider in providers:
            documents.append((provider, provider.export(user)))
            DataExport.objects.filter(pk=export.pk).update(parts_done=F("parts_done") + 1)
        with tempfile.TemporaryFile() as handle:
            write_archive(handle, user=user, documents=documents, generated_at=now or timezone.now())
            file_size = handle.tell()
            stored = files.save(files.new_name(EXPORT_SUBDIR, ".zip"), handle)
        file_name = stored.removeprefix(f"{EXPORT_SUBDIR}/")
    except Exception:
        logger.exception("data export %s failed", export.pk)
        _export_failed(export)
        export.refresh_from_db()
        return export
    now = now or timezone.now()
    with transaction.atomic():
        finished = DataExport.objects.filter(pk=export.pk, state=DataExport.State.BUILDING).update(
            state=DataExport.State.READY,
            file_name=file_name,
            file_size=file_size,
            ready_at=now,
            expires_at=now + timedelta(days=settings.DATA_EXPORT_TTL_DAYS),
            parts_done=export.parts_total,
        )
        if not finished:  # the export (or its owner) was deleted meanwhile: keep no orphan file
            files.delete([stored])
            return None
        export.refresh_from_db()
        emails.data_export_ready_send(export=export)
    return export


def data_exports_resume(*, now: datetime | None = None) -> list[int]:
    """The exports whose build died or never started (its worker was killed, the queue lost its message), for
    beat to build again: pending or building since longer than ``export_stale_after()``. Their build decides
    (``data_export_build``): a dead one is built again, or given up as failed after ``EXPORT_BUILD_ATTEMPTS``."""
    before = (now or timezone.now()) - export_stale_after()
    return list(
        DataExport.objects.filter(
            Q(state=DataExport.State.PENDING, requested_at__lt=before)
            | Q(state=DataExport.State.BUILDING, started_at__lt=before)
            | Q(state=DataExport.State.BUILDING, started_at__isnull=True, requested_at__lt=before)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def data_archive_open(*, user: User, now: datetime | None = None) -> IO[bytes]:
    """Everything the registry holds about ``user`` as the export's zip archive, in a temporary file rewound to
    its start (deleted when closed), for a response to stream (a parent downloading their child's data)."""
    documents = [(provider, provider.export(user)) for provider in registry.providers()]
    handle = tempfile.TemporaryFile()
    try:
        write_archive(handle, user=user, documents=documents, generated_at=now or timezone.now())
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return handle


def data_exports_expired(now: datetime) -> QuerySet[DataExport]:
    """Exports whose download period is over at ``now`` (their file still on disk)."""
    return DataExport.objects.filter(state=DataExport.State.READY, expires_at__lte=now)


def data_exports_expire_rows(pks: list[Any]) -> int:
    """Mark these exports expired and delete their files once the transaction commits.

    The retention engine's purge for the rule ``accounts.data_export_files`` (run inside its batch).
    """
    names = list(DataExport.objects.filter(pk__in=pks).exclude(file_name="").values_list("file_name", flat=True))
    count = DataExport.objects.filter(pk__in=pks, state=DataExport.State.READY).update(
        state=DataExport.State.EXPIRED, file_name=""
    )
    transaction.on_commit(lambda: _export_files_delete(names))
    return count


def data_exports_expire(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> int:
    """Delete the files of exports past their expiry and mark them expired. Set-based, in batches."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic():
            pks = list(
                data_exports_expired(now)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not pks:
                return expired
            expired += data_exports_expire_rows(pks)


def _export_files_delete(names: list[str]) -> None:
    files.delete(f"{EXPORT_SUBDIR}/{name}" for name in names if name)


def data_exports_erase_statement(*, user: User) -> privacy.Statement:
    """Delete a user's export rows and their files (part of the accounts provider's erase): one DELETE ...
    RETURNING the file names (nothing points at an export row), the files once the transaction commits."""

    def files_delete(rows: list[tuple[Any, ...]]) -> None:
        names = [name for (name,) in rows if name]
        if names:
            transaction.on_commit(lambda: _export_files_delete(names))

    return privacy.Statement(
        f"DELETE FROM {DataExport._meta.db_table} WHERE user_id = %s RETURNING file_name",  # noqa: S608
        [user.pk],
        files_delete,
        clears=((DataExport._meta.db_table, "user_id", user.pk),),
    )


# The reason of a deletion the account holder asked for on their own page.
OWN_REQUEST_REASON = "the account holder asked"


@transaction.atomic
def account_deletion_request(
    *, user: User, reauthenticated_by: str, reason: str = OWN_REQUEST_REASON, now: datetime | None = None
) -> AccountDeletionRequest:
    """Deactivate the account at once and schedule its erasure after the grace period.

    Deactivating ends every session (Django's backends refuse an inactive user's session). Signing in
    again during the grace period cancels the request (see :func:`account_deletion_cancel`).
    """

    now = now or timezone.now()
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_staff or locked.is_superuser:
        raise ValidationError(_("Staff accounts are closed by an administrator."), code="staff")
    if AccountDeletionRequest.objects.filter(user=locked, state__in=AccountDeletionRequest.OPEN_STATES).exists():
        raise ValidationError(_("The deletion of this account is already scheduled."), code="open")
    deletion = AccountDeletionRequest.objects.create(
        reference=uuid.uuid4(),
        user=locked,
        reauthenticated_by=reauthenticated_by,
        reason=_reason_field(reason),
        erase_after=now + timedelta(days=settings.ACCOUNT_DELETION_GRACE_DAYS),
    )
    user.is_active = False
    user.save(update_fields=["is_active"])
    user_sessions_end(user=user)  # signed out everywhere; signing in again during the grace period cancels
    address, name = user.email, user.get_short_name() or user.username
    if address:
        emails.account_deletion_scheduled_send(email=address, name=name, deletion=deletion, user=locked)
    return deletion


@transaction.atomic
def account_deletion_cancel(*, user: User, now: datetime | None = None) -> bool:
    """Cancel a deletion still in its grace period and reactivate the account. False if there is none."""
    deletion = (
        AccountDeletionRequest.objects.select_for_update()
        .filter(user_id=user.pk, state=AccountDeletionRequest.State.SCHEDULED)
        .first()
    )
    if deletion is None:
        return False
    deletion.state = AccountDeletionRequest.State.CANCELLED
    deletion.cancelled_at = now or timezone.now()
    deletion.save(update_fields=["state", "cancelled_at"])
    user.is_active = True
    user.save(update_fields=["is_active"])
    return True


def account_deletion_cancel_on_sign_in_receiver(
    sender: Any, request: HttpRequest, user: User, method: str, **kwargs: Any
) -> None:
    """allauth ``authentication_step_completed``: the person proved who they are (password, linked
    provider or a login code); if their account is waiting for deletion, signing in cancels it.

    This signal fires before allauth's inactive-account check, so the login then completes normally.
    """
    if method not in ("password", "socialaccount", "code") or user.is_active or user.pk is None:
        return
    if account_deletion_cancel(user=user):
        messages.success(request, gettext("Welcome back. Your account will not be deleted."))


def _scrub(text: str, needles: list[str]) -> str:
    """An error text without the person's identifiers (it outlives the erasure)."""
    for needle in sorted({n for n in needles if n and len(n) >= 2}, key=len, reverse=True):
        text = re.sub(re.escape(needle), "[redacted]", text, flags=re.IGNORECASE)
    return text[:2000]


def account_erasure_run(*, request_id: int, now: datetime | None = None) -> AccountDeletionRequest | None:
    """Run (or resume) the erasure pipeline of one deletion request.

    Every registered privacy provider erases in its declared order, all in one transaction whose commit also
    marks their steps done (one update), so a step is done exactly when its data is gone. Only if that
    transaction fails do the providers run again one transaction each (the same commit-marks-done rule), so
    the steps before the failing one stay done and a retry resumes exactly there. The first failure
    stops the run with the step ``failed`` (error text kept, without identifiers) and the request
    ``failed``; a later run resumes from the steps not done. The accounts provider, which deletes the
    user row, runs last and only after every other step is done. Re-running an erased request is a no-op.
    """

    now = now or timezone.now()
    providers = registry.providers()
    with transaction.atomic():
        deletion = AccountDeletionRequest.objects.select_for_update(skip_locked=True).filter(pk=request_id).first()
        if deletion is None or not _erasure_start(deletion, providers=providers, now=now):
            return deletion
    return _erasure_execute(deletion, providers=providers, now=now)


def _erasure_start(
    deletion: AccountDeletionRequest, *, providers: list[Any], now: datetime, at_once: bool = False
) -> bool:
    """In the caller's transaction, with ``deletion`` locked: mark it ``erasing`` (one more attempt) and make sure
    it has one step per provider. False when there is nothing to run now: cancelled, erased, still in its grace
    period (unless ``at_once``), another run in progress, or the user row deleted outside the pipeline (then
    every step not done is marked failed, where staff look)."""
    if deletion.state in (AccountDeletionRequest.State.CANCELLED, AccountDeletionRequest.State.ERASED):
        return False
    if deletion.state == AccountDeletionRequest.State.SCHEDULED and deletion.erase_after > now and not at_once:
        return False  # still in its grace period
    # A run lives at most CELERY_TASK_TIME_LIMIT (the worker kills it then; a request is shorter still): a run
    # that started longer ago is dead (its worker was killed) and this one, say its redelivered message,
    # resumes it from the steps not done.
    lease = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    if (
        deletion.state == AccountDeletionRequest.State.ERASING
        and deletion.last_attempt_at is not None
        and deletion.last_attempt_at > lease
    ):
        return False  # another run is in progress
    deletion.state = AccountDeletionRequest.State.ERASING
    deletion.attempts += 1
    deletion.last_attempt_at = now
    deletion.save(update_fields=["state", "attempts", "last_attempt_at"])
    _erasure_steps_create(deletion, providers)
    if deletion.user_id is None:
        # The user row was deleted outside this pipeline (say, by hand in the admin): the providers
        # that erase by user cannot run any more. Say so where staff look, never report it done.
        deletion.steps.exclude(state=ErasureStep.State.DONE).update(
            state=ErasureStep.State.FAILED,
            attempts=F("attempts") + 1,
            error=gettext("The account was deleted outside the erasure pipeline; check each provider by hand."),
        )
        deletion.state = AccountDeletionRequest.State.FAILED
        deletion.save(update_fields=["state"])
        return False
    return True


def _erasure_steps_create(deletion: AccountDeletionRequest, providers: list[Any]) -> None:
    """One step per provider (one INSERT; the steps a request already has stay as they are)."""
    ErasureStep.objects.bulk_create(
        [ErasureStep(request=deletion, provider=p.name, position=i) for i, p in enumerate(providers)],
        ignore_conflicts=True,
    )


def _erasure_execute(
    deletion: AccountDeletionRequest,
    *,
    providers: list[Any],
    now: datetime,
    user: User | None = None,
    fresh: bool = False,
) -> AccountDeletionRequest:
    """The providers of a started request (:func:`_erasure_start`), then the last email. ``user``: the account,
    when the caller has just read and locked it; ``fresh``: the request's steps were all created pending in the
    transaction that started it (nothing to read back)."""
    if fresh:
        steps = {p.name: ErasureStep(request=deletion, provider=p.name) for p in providers}
    else:
        steps = {step.provider: step for step in deletion.steps.all()}
    user = user or User.objects.get(pk=deletion.user_id)  # type: ignore[misc]  # started: the user is there
    needles = [user.username, user.email, user.first_name, user.last_name, user.get_full_name()]
    ordered = [p for p in providers if p.name != ACCOUNTS_PROVIDER] + [
        p for p in providers if p.name == ACCOUNTS_PROVIDER
    ]
    address, name, language = user.email, user.get_short_name() or user.username, user.language
    pending = [provider for provider in ordered if steps[provider.name].state != ErasureStep.State.DONE]
    if not pending:  # every step done already (another run finished): what the request says now
        deletion.refresh_from_db()
        return deletion

    def last_email() -> None:
        if address:
            emails.account_erased_send(email=address, name=name, language=language)

    email = emails.account_erased_statement(email=address, name=name, language=language) if address else None
    if _erase_at_once(deletion=deletion, user=user, providers=pending, now=now, email=email):
        deletion.state, deletion.erased_at, deletion.user_id = AccountDeletionRequest.State.ERASED, now, None
        return deletion
    # Only after a failure of the single transaction: each provider in its own transaction, so the steps done
    # stay done and the failing one is recorded (a retry resumes exactly there). The user row then goes through
    # Django's deletion collector (never the one-statement cascade that may be what failed).
    if pending and fresh:  # the fallback updates steps by id
        steps = {step.provider: step for step in deletion.steps.all()}
    for provider in pending:
        step = steps[provider.name]
        try:
            with transaction.atomic(), cascade.collector_only():
                provider.erase(user)
                ErasureStep.objects.filter(pk=step.pk).update(
                    state=ErasureStep.State.DONE, done_at=now, attempts=F("attempts") + 1, error=""
                )
                if provider.name == ACCOUNTS_PROVIDER:
                    # The user row is gone (the request's user set to NULL with it): nothing identifies them.
                    AccountDeletionRequest.objects.filter(pk=deletion.pk).update(
                        state=AccountDeletionRequest.State.ERASED, erased_at=now, user=None
                    )
        except Exception as exc:
            logger.exception("erasure %s: provider %s failed", deletion.reference, provider.name)
            error = _scrub(f"{type(exc).__name__}: {exc}", needles)
            with transaction.atomic():
                ErasureStep.objects.filter(pk=step.pk).update(
                    state=ErasureStep.State.FAILED, attempts=F("attempts") + 1, error=error
                )
                AccountDeletionRequest.objects.filter(pk=deletion.pk).update(state=AccountDeletionRequest.State.FAILED)
            deletion.refresh_from_db()
            return deletion
    deletion.state, deletion.erased_at, deletion.user_id = AccountDeletionRequest.State.ERASED, now, None
    last_email()
    return deletion


def _erase_at_once(
    *,
    deletion: AccountDeletionRequest,
    user: User,
    providers: list[Any],
    now: datetime,
    then: Callable[[], object] | None = None,
    email: Any = None,
) -> bool:
    """Every provider not done yet in one transaction, with one update of their steps (and the request marked
    erased when the accounts provider, last, has run). False, with nothing changed, when one fails (the
    commit included: a row still pointing at the user): the caller then runs them one transaction each to
    record which.

    The providers' statements (``erase_statements``) and the updates of the steps and the request travel as
    one string: one round trip for the whole erasure (a provider with its own ``erase()`` runs where it stands,
    the statements before it sent first). ``then`` runs last in the same transaction (the email saying it is
    done: its row exists exactly when the erasure does)."""
    names = [provider.name for provider in providers]
    try:
        with transaction.atomic():
            parts = [part for provider in providers for part in privacy.erase_parts(provider, user)]
            parts.append(privacy.Statement(_STEPS_DONE_SQL, [now, deletion.pk, names], prepare=True))
            if ACCOUNTS_PROVIDER in names:
                parts.append(privacy.Statement(_REQUEST_ERASED_SQL, [now, deletion.pk], prepare=True))
            if email is not None:
                parts.append(email)
            privacy.erase_run(parts)
            if then is not None:
                then()
    except Exception:
        logger.warning("erasure %s: the single transaction failed; each provider on its own now", deletion.reference)
        return False
    return True


def account_erase_now(
    *,
    user: User,
    requested_by: str,
    reason: str,
    now: datetime | None = None,
    before: Callable[[], object] | None = None,
) -> AccountDeletionRequest:
    """Erase an account at once, through the one erasure pipeline, with no grace period.

    For a parent deleting their child's account, a school removing a student it registered, a privacy
    officer answering a request. A deletion the person already scheduled runs now; otherwise a request is
    opened (``requested_by`` is kept on it as who confirmed it). ``reason`` is kept on the request (added to the
    reason of one the person scheduled) and logged with its random reference: it must never hold the person's
    identifiers, since the request outlives them. The request is returned ``erased``, or ``failed`` when a
    provider failed (the beat task retries it). ``before`` runs in the transaction that opens the request, so
    what the caller records about it (a consent ledger entry) exists exactly when the request does.

    One transaction opens the request already ``erasing`` (the account deactivated, its sessions ended, one step
    per provider: committed, so a run that dies later is resumed by the beat task), a second one erases
    (:func:`account_erasure_run`'s rules). No "will be deleted" email: the person gets the one saying it is done.
    """
    now = now or timezone.now()
    providers = registry.providers()
    try:
        return _erase_now(
            user=user, requested_by=requested_by, reason=reason, now=now, before=before, providers=providers
        )
    except DatabaseError as exc:
        if not prepared.lost(exc):
            raise
    # the session no longer held a statement prepared on it (a rollback's DEALLOCATE ALL by psycopg, a pooler's
    # reset): the transaction that opened rolled back, nothing was opened; once more, the statements prepared again
    return _erase_now(user=user, requested_by=requested_by, reason=reason, now=now, before=before, providers=providers)


def _erase_now(
    *,
    user: User,
    requested_by: str,
    reason: str,
    now: datetime,
    before: Callable[[], object] | None,
    providers: list[Any],
) -> AccountDeletionRequest:
    with transaction.atomic():
        if before is not None:
            before()
        for _attempt in range(3):
            # nearly always: no request open, the opening inserts one (no read before it)
            opened = _erasure_open(user=user, requested_by=requested_by, reason=reason, now=now, providers=providers)
            if opened is not None:
                break
            # None: a request is open (the person's own, or a concurrent call's that committed): read it, locked
            with connection.cursor() as cursor:
                cursor.execute(_OPEN_REQUEST_SQL, [user.pk])
                found = cursor.fetchall()
            if found:
                break
            # closed between the opening and the read: open one again
        else:
            raise RuntimeError(f"erasure of user {user.pk}: a request keeps opening and closing")
        if opened is not None:
            deletion, run, fresh = opened, True, True
        else:
            deletion = AccountDeletionRequest.objects.get(pk=found[0][0])
            if reason not in deletion.reason:
                deletion.reason = _reason_field(
                    f"{deletion.reason}; then at once: {reason}" if deletion.reason else reason
                )
                deletion.save(update_fields=["reason"])
            run, fresh = _erasure_start(deletion, providers=providers, now=now, at_once=True), False
    logger.info("erasure %s requested at once by %s: %s", deletion.reference, requested_by, reason)
    if not run:  # erased meanwhile, or another run holds the request: it finishes the erasure
        deletion.refresh_from_db()
        return deletion
    return _erasure_execute(deletion, providers=providers, now=now, user=user, fresh=fresh)


def _erasure_open(
    *, user: User, requested_by: str, reason: str, now: datetime, providers: list[Any]
) -> AccountDeletionRequest | None:
    """In the caller's transaction, one round trip: lock the account's row and deactivate it, insert its request
    already ``erasing`` with one step per provider, and end its sessions. None, nothing inserted, when a request of
    the account is open already: the person's own, or one a concurrent transaction inserted (``INSERT ... ON
    CONFLICT DO NOTHING`` on the unique index of open requests waits for that transaction and, once it committed,
    inserts nothing; the caller then reads that request: no read before the opening). Staff accounts are closed by
    an administrator (ValidationError: the caller's transaction rolls back what the statements did).

    The statements' text is written once per process (the values are parameters): nothing to build but the
    sessions' statement."""
    deletion = AccountDeletionRequest(
        reference=uuid.uuid4(),
        user=user,
        reauthenticated_by=requested_by,
        reason=_reason_field(reason),
        erase_after=now,
        state=AccountDeletionRequest.State.ERASING,
        attempts=1,
        last_attempt_at=now,
        requested_at=timezone.now(),  # auto_now_add
    )
    account: list[tuple[Any, ...]] = []
    inserted: list[tuple[Any, ...]] = []
    privacy.erase_run(
        [
            # Committed without waiting for the disk: only a crash of the database server itself in the next
            # moment (wal_writer_delay) could lose it, and then the erasure's own commit, which waits for the
            # disk and flushes this one with it, cannot have happened either: the caller sees the failure.
            # A killed worker or web process loses nothing (README, "Erasure pipeline").
            privacy.Statement("SET LOCAL synchronous_commit TO OFF"),
            privacy.Statement(_OPEN_ACCOUNT_SQL, [user.pk], account.extend, prepare=True),
            privacy.Statement(
                _OPEN_INSERT_SQL,
                [
                    deletion.reference,
                    user.pk,
                    deletion.state,
                    deletion.reauthenticated_by,
                    deletion.reason,
                    deletion.requested_at,
                    deletion.erase_after,
                    deletion.attempts,
                    deletion.last_attempt_at,
                    deletion.requested_at,
                    [p.name for p in providers],
                ],
                inserted.extend,
                prepare=True,
            ),
            replace(user_sessions_end_statement(user=user), prepare=True),
        ]
    )
    if not account:
        raise User.DoesNotExist(f"user {user.pk}")
    staff, user.username, user.email, user.first_name, user.last_name, user.language = account[0]
    if staff:
        raise ValidationError(_("Staff accounts are closed by an administrator."), code="staff")
    user.is_active = False
    if not inserted:
        return None
    ((deletion.pk,),) = inserted
    deletion._state.adding, deletion._state.db = False, "default"
    return deletion


def _erasure_statements() -> dict[str, str]:
    """The erasure's own statements, written once per process (their values are parameters): the read of an open
    request, the opening's (the account deactivated returning what the erasure needs of it, the request, its
    steps: one per provider name, in order), and the updates of the steps done (by provider name) and of the
    request erased (its user set to NULL: nothing identifies the person)."""
    q = connection.ops.quote_name
    requests, steps, users = (
        q(AccountDeletionRequest._meta.db_table),
        q(ErasureStep._meta.db_table),
        q(User._meta.db_table),
    )
    open_states = ", ".join(f"'{state}'" for state in AccountDeletionRequest.OPEN_STATES)
    return {
        "open_request": (
            f'SELECT "id" FROM {requests} WHERE "user_id" = %s AND "state" IN ({open_states}) '  # noqa: S608
            "LIMIT 1 FOR UPDATE"
        ),
        "open_account": (
            f"UPDATE {users} SET is_active = false WHERE id = %s "  # noqa: S608
            "RETURNING is_staff OR is_superuser, username, email, first_name, last_name, language"
        ),
        "open_insert": (
            # the request and its steps (one per provider name, in order), unless a request is open (the index
            # accounts_deletion_one_open_per_user: its column and condition)
            f'WITH "request" AS (INSERT INTO {requests} ("reference", "user_id", "state", "reauthenticated_by", '  # noqa: S608
            '"reason", "requested_at", "erase_after", "cancelled_at", "attempts", "last_attempt_at", "erased_at") '
            "VALUES (%s, %s, %s, %s, %s, %s, %s, NULL, %s, %s, NULL) "
            f'ON CONFLICT ("user_id") WHERE "state" IN ({open_states}) DO NOTHING RETURNING "id"), '
            f'"steps" AS (INSERT INTO {steps} ("request_id", "provider", "position", "state", "attempts", "error", '
            f'"updated_at", "done_at") SELECT "request"."id", "step"."provider", "step"."position" - 1, '
            f"'{ErasureStep.State.PENDING}', 0, '', %s, NULL FROM \"request\", "
            'unnest(%s::varchar[]) WITH ORDINALITY AS "step" ("provider", "position")) '
            'SELECT "id" FROM "request"'
        ),
        "steps_done": (
            f'UPDATE {steps} SET "state" = \'{ErasureStep.State.DONE}\', "done_at" = %s, '  # noqa: S608
            '"attempts" = "attempts" + 1, "error" = \'\' WHERE "request_id" = %s AND "provider" = ANY(%s::varchar[])'
        ),
        "request_erased": (
            f'UPDATE {requests} SET "state" = \'{AccountDeletionRequest.State.ERASED}\', "erased_at" = %s, '  # noqa: S608
            '"user_id" = NULL WHERE "id" = %s'
        ),
    }


_SQL = _erasure_statements()
_OPEN_REQUEST_SQL, _OPEN_ACCOUNT_SQL, _OPEN_INSERT_SQL = _SQL["open_request"], _SQL["open_account"], _SQL["open_insert"]
_STEPS_DONE_SQL, _REQUEST_ERASED_SQL = _SQL["steps_done"], _SQL["request_erased"]


def _reason_field(reason: str) -> str:
    limit = AccountDeletionRequest._meta.get_field("reason").max_length or 200
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def account_erasures_due(*, now: datetime | None = None, batch_size: int = 100) -> int:
    """Erase every account whose grace period ended, and retry failed or interrupted erasures.

    Returns how many requests reached ``erased`` in this run.
    """
    now = now or timezone.now()
    retry_before = now - timedelta(minutes=settings.ACCOUNT_ERASURE_RETRY_MINUTES)
    due = Q(state=AccountDeletionRequest.State.SCHEDULED, erase_after__lte=now) | Q(
        state__in=[AccountDeletionRequest.State.FAILED, AccountDeletionRequest.State.ERASING],
        last_attempt_at__lte=retry_before,
    )
    ids = list(
        AccountDeletionRequest.objects.filter(due).order_by("erase_after").values_list("pk", flat=True)[:batch_size]
    )
    erased = 0
    for request_id in ids:
        result = account_erasure_run(request_id=request_id, now=now)
        if result is not None and result.state == AccountDeletionRequest.State.ERASED:
            erased += 1
    return erased


def account_erasure_retry(*, request_id: int) -> None:
    """Queue one more run of a failed erasure now (the admin's action)."""
    # the tasks module imports this one at its top (a task calls a service): the other way round is a cycle.
    from . import tasks

    deletion = AccountDeletionRequest.objects.get(pk=request_id)
    if deletion.state != AccountDeletionRequest.State.FAILED:
        raise ValidationError(_("Only a failed erasure can be retried."), code="not_failed")
    transaction.on_commit(lambda: tasks.account_erasure_run_task.delay(request_id))


def _support_rate_limited(keys: list[str]) -> bool:
    """Count one message against each key; True when one of them is over the hourly limit. The limit protects
    staff's inbox from floods: while Redis is down it fails closed (CacheUnavailable)."""
    limited = False
    for key in keys:
        count = shared_cache.count(f"support-inquiry:{key}", timeout=3600)
        limited = limited or count > settings.SUPPORT_INQUIRIES_PER_HOUR
    return limited


@transaction.atomic
def support_inquiry_submit(
    *, user: User | None, client_ip: str, name: str, email: str, topic: str, message: str
) -> SupportInquiry:
    """Keep a message from the contact form for staff to answer (deleted after the retention period)."""
    keys = [f"ip:{client_ip}"] + ([f"user:{user.pk}"] if user is not None else [])
    try:
        limited = _support_rate_limited(keys)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if limited:
        raise ValidationError(
            _("You have sent several messages in the last hour. Please wait a little before writing again."),
            code="rate_limited",
        )
    inquiry = SupportInquiry(user=user, name=name, email=email, topic=topic, message=message)
    inquiry.full_clean()
    inquiry.save()
    return inquiry


def support_inquiries_expired(now: datetime) -> QuerySet[SupportInquiry]:
    """Inquiries received more than SUPPORT_INQUIRY_RETENTION_DAYS before ``now``."""
    return SupportInquiry.objects.filter(created_at__lt=now - timedelta(days=settings.SUPPORT_INQUIRY_RETENTION_DAYS))


SUPPORT_KEY = ("created_at", "id")  # the index accounts_support_created_key


def support_inquiries_purge(*, now: datetime | None = None, batch_size: int = bulk.BATCH_SIZE) -> int:
    """Delete inquiries older than SUPPORT_INQUIRY_RETENTION_DAYS: keyset batches (``mindomo.bulk``, the
    retention rule runs the same)."""
    return bulk.delete_in_batches(support_inquiries_expired(now or timezone.now()), key=SUPPORT_KEY, size=batch_size)


def support_inquiries_mark_handled(*, inquiry_ids: list[int], now: datetime | None = None) -> int:
    """Staff answered these inquiries (they are still deleted at the end of the retention period)."""
    return SupportInquiry.objects.filter(pk__in=inquiry_ids, handled_at__isnull=True).update(
        handled_at=now or timezone.now()
    )
