"""Files that another process must read: export archives, the background jobs' results (login cards, zips,
reports, invoice PDFs). They go through Django's storage API (``STORAGES["default"]``), never a path on the
local disk, so the worker that writes a file and the web process that serves it may run on different machines.

The storage is local files under ``MEDIA_ROOT`` by default (``make run``, one machine), and S3-compatible object
storage (django-storages: Amazon S3, MinIO, ...) when ``STORAGE_BUCKET`` is set (README, "Operations"). Nothing
here is public: no URL of the storage is ever given out; a file reaches its owner only through a view that
checks who asks and streams it (:func:`open_file`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage, storages

logger = logging.getLogger(__name__)


def storage() -> Storage:
    return storages["default"]


def new_name(folder: str, suffix: str) -> str:
    """An unguessable name in ``folder`` (``"exports"``, ``"jobs"``): ``folder/<43 random characters><suffix>``."""
    return f"{folder}/{secrets.token_urlsafe(32)}{suffix}"


def save(name: str, handle: IO[bytes]) -> str:
    """Store the content of ``handle`` (read from its start) under ``name``; returns the name it is stored under.

    One call: a reader never sees half a file (local files are written to a temporary name and moved; S3 has
    no partial objects)."""
    handle.seek(0)
    return storage().save(name, File(handle, name=name.rsplit("/", 1)[-1]))


def open_file(name: str) -> IO[bytes] | None:
    """The stored file opened for reading, or None when it is not there (deleted, expired, never written)."""
    if not name:
        return None
    try:
        if not storage().exists(name):
            return None
        return storage().open(name, "rb")
    except (FileNotFoundError, OSError):
        return None


def exists(name: str) -> bool:
    return bool(name) and storage().exists(name)


def delete(names: Iterable[str]) -> None:
    """Delete stored files; one that is already gone is no error, one that cannot be deleted is logged."""
    for name in names:
        if not name:
            continue
        try:
            storage().delete(name)
        except Exception:
            logger.exception("could not delete the stored file %s", name)


def ready() -> str:
    """Create what the storage needs when it is missing (the bucket, or the local folder); says what it uses."""
    current = storage()
    bucket = getattr(current, "bucket", None)
    if bucket is not None:  # django-storages' S3Storage
        client = current.connection.meta.client  # type: ignore[attr-defined]
        try:
            client.head_bucket(Bucket=bucket.name)
        except client.exceptions.ClientError:
            client.create_bucket(Bucket=bucket.name)
            return f"object storage: bucket {bucket.name} created"
        return f"object storage: bucket {bucket.name}"
    location = getattr(current, "location", "")
    if location:
        Path(location).mkdir(parents=True, exist_ok=True)
    return f"local files: {location}"
