"""Asking for a prepared file, building it (the Celery job), expiring it. One path for every kind."""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from mindomo import files, privacy
from mindomo.outbox import services as outbox
from mindomo.site import absolute_url

from . import registry
from .models import PreparedFile

logger = logging.getLogger(__name__)

FOLDER = "prepared"
# the first key of the advisory lock taken while asking for a file (the second: a hash of the file's key)
ADVISORY_LOCK_CLASS = 7_331


def prepared_file_request(
    *,
    kind: str,
    download_name: str,
    content_type: str,
    params: dict[str, Any],
    user: Any = None,
    owner_email: str = "",
    subject: Any = None,
    parts_total: int = 1,
    language: str = "",
) -> PreparedFile:
    """Ask for a file: the row now, the build on the ``bulk`` queue after the commit.

    A second ask for the same file (same kind, owner and parameters: a double submit, a reload of the POST) while
    the first is still waiting or being built gets that first file: one job, never two. The asks of one owner for
    one file are serialised by a transaction-level advisory lock on their key, so two at once cannot both create.
    A file still waiting after twice the task time limit lost its job (its message): asking again starts a new one."""
    from . import tasks

    if registry.get(kind) is None:
        raise ValueError(f"no prepared-file kind {kind!r}")
    owner_email = owner_email.strip().lower()
    user_id = getattr(user, "pk", None)
    key = json.dumps([kind, user_id, owner_email, params], sort_keys=True, default=str)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [ADVISORY_LOCK_CLASS, key])
        in_flight = (
            PreparedFile.objects.filter(
                Q(user__isnull=True) if user_id is None else Q(user_id=user_id),
                kind=kind,
                owner_email=owner_email,
                params=params,
                state__in=(PreparedFile.State.PENDING, PreparedFile.State.BUILDING),
                created_at__gte=timezone.now() - timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT),
            )
            .order_by("pk")
            .first()
        )
        if in_flight is not None:
            return in_flight
        prepared = PreparedFile.objects.create(
            kind=kind,
            user=user,
            owner_email=owner_email,
            subject=subject,
            params=params,
            download_name=download_name,
            content_type=content_type,
            parts_total=max(parts_total, 1),
            language=language or translation.get_language() or settings.LANGUAGE_CODE,
        )
        transaction.on_commit(lambda: tasks.prepared_file_build_task.delay(prepared.pk))
    return prepared


def prepared_file_build(*, prepared_id: int, now: datetime | None = None) -> PreparedFile | None:
    """Build a pending file into the file storage. Idempotent: anything but a pending file is left alone.
    A failure leaves ``failed`` with a message for the person, and no file."""
    with transaction.atomic():
        prepared = PreparedFile.objects.select_for_update().filter(pk=prepared_id).first()
        if prepared is None or prepared.state != PreparedFile.State.PENDING:
            return prepared
        prepared.state = PreparedFile.State.BUILDING
        prepared.save(update_fields=["state"])
    kind = registry.get(prepared.kind)

    def progress(done: int, total: int) -> None:
        PreparedFile.objects.filter(pk=prepared.pk).update(parts_done=done, parts_total=max(total, 1))

    try:
        if kind is None:
            raise ValueError(f"no prepared-file kind {prepared.kind!r}")
        suffix = "." + prepared.download_name.rsplit(".", 1)[-1] if "." in prepared.download_name else ""
        with tempfile.TemporaryFile() as handle, translation.override(prepared.language or settings.LANGUAGE_CODE):
            kind.build(prepared, handle, progress)
            size = handle.tell()
            stored = files.save(files.new_name(FOLDER, suffix), handle)
    except ValidationError as error:
        _failed(prepared, " ".join(error.messages), now=now)
        return _fresh(prepared)
    except Exception:
        logger.exception("prepared file %s (%s) failed", prepared.pk, prepared.kind)
        with translation.override(prepared.language or settings.LANGUAGE_CODE):
            _failed(prepared, gettext("The file could not be prepared. Please try again."), now=now)
        return _fresh(prepared)
    now = now or timezone.now()
    with transaction.atomic():
        finished = PreparedFile.objects.filter(pk=prepared.pk, state=PreparedFile.State.BUILDING).update(
            state=PreparedFile.State.READY,
            file_name=stored,
            file_size=size,
            parts_done=F("parts_total"),
            ready_at=now,
            expires_at=now + timedelta(hours=settings.PREPARED_FILE_TTL_HOURS),
        )
        if finished:
            _announce(prepared, ready=True, now=now)
    if not finished:  # deleted meanwhile (its owner erased): keep no orphan file
        files.delete([stored])
        return None
    return _fresh(prepared)


def _failed(prepared: PreparedFile, message: str, *, now: datetime | None) -> None:
    with transaction.atomic():
        failed = PreparedFile.objects.filter(pk=prepared.pk, state=PreparedFile.State.BUILDING).update(
            state=PreparedFile.State.FAILED, error=message
        )
        if failed:
            prepared.error = message
            _announce(prepared, ready=False, now=now or timezone.now())


def prepared_file_recipient(prepared: PreparedFile) -> str:
    """The address a file's "ready" email goes to: the account's of the person who asked, or the parent's the
    portal knows them by; "" for an account without an address (no email then)."""
    if prepared.user_id is not None:
        return str(PreparedFile.objects.filter(pk=prepared.pk).values_list("user__email", flat=True).first() or "")
    return prepared.owner_email


def notify_after_minutes() -> int:
    """What the file's page promises: "if it is not ready within N minutes, we email you"."""
    return max(1, round(settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS / 60))


def _announce(prepared: PreparedFile, *, ready: bool, now: datetime) -> None:
    """A build that outlasted ``PREPARED_FILE_NOTIFY_AFTER_SECONDS`` (or failed after it) is announced to the
    person who asked, in the file's language, through the outbox in the transaction that finished it: one email
    exactly when the state changed. A quick build is not: its page showed the result."""
    if (now - prepared.created_at).total_seconds() < settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS:
        return
    to = prepared_file_recipient(prepared)
    kind = registry.get(prepared.kind)
    if not to or kind is None:
        return
    language = prepared.language or settings.LANGUAGE_CODE
    with translation.override(language):
        name = prepared.download_name
        if ready:
            subject = gettext("Your file is ready: %(name)s") % {"name": name}
        else:
            subject = gettext("Your file could not be prepared: %(name)s") % {"name": name}
        context = {
            "ready": ready,
            "title": str(kind.title),
            "name": name,
            "error": prepared.error,
            "url": absolute_url(reverse("downloads:progress", args=[prepared.public_id])),
            "back_url": absolute_url(kind.back_url(prepared)),
            "hours": settings.PREPARED_FILE_TTL_HOURS,
        }
        outbox.email_enqueue(
            kind="downloads.ready" if ready else "downloads.failed",
            to=to,
            subject=subject,
            template="emails/downloads/ready",
            context=context,
            language=language,
        )


def _fresh(prepared: PreparedFile) -> PreparedFile | None:
    return PreparedFile.objects.filter(pk=prepared.pk).first()


def prepared_file_open(prepared: PreparedFile, *, now: datetime | None = None) -> IO[bytes] | None:
    """The ready, unexpired file opened for its download, or None."""
    usable = (
        prepared.state == PreparedFile.State.READY
        and prepared.expires_at is not None
        and prepared.expires_at > (now or timezone.now())
    )
    return files.open_file(prepared.file_name) if usable else None


def prepared_files_expired(now: datetime) -> Any:
    """The rows past their time (the retention rule ``downloads.files``)."""
    return PreparedFile.objects.filter(expires_at__lte=now)


def prepared_files_purge(pks: list[Any]) -> int:
    """Delete expired prepared files: the stored files, then the rows."""
    with transaction.atomic():
        rows = list(PreparedFile.objects.select_for_update().filter(pk__in=pks).values_list("pk", "file_name"))
        PreparedFile.objects.filter(pk__in=[pk for pk, _name in rows]).delete()
        names = [name for _pk, name in rows if name]
        transaction.on_commit(lambda: files.delete(names))
    return len(rows)


def prepared_files_erase_statement(*, user: Any) -> privacy.Statement:
    """A person's prepared files, rows and stored files (their account's erasure): the files they asked for and
    the files holding their data (a child's data prepared for the parent). One DELETE ... RETURNING the file
    names (nothing points at a prepared file), the files once the transaction commits."""
    mine = Q(user_id=user.pk) | Q(subject_id=user.pk)
    if user.email:
        mine |= Q(owner_email=user.email.strip().lower())
    sql, params = PreparedFile.objects.filter(mine).values("pk").query.sql_with_params()

    def files_delete(rows: list[tuple[Any, ...]]) -> None:
        names = [name for (name,) in rows if name]
        if names:
            transaction.on_commit(lambda: files.delete(names))

    return privacy.Statement(
        f"DELETE FROM {PreparedFile._meta.db_table} WHERE id IN ({sql}) RETURNING file_name",  # noqa: S608
        list(params),
        files_delete,
        clears=tuple((PreparedFile._meta.db_table, column, user.pk) for column in ("user_id", "subject_id")),
    )
