"""Staff looking at people's records outside the admin (an invoice's PDF from the staff link, a period's invoices
in a zip) leave rows in the access log, as the admin's pages do (privacy.audit).

The apps below privacy cannot import it (the layer contract): they call :func:`staff_accessed_record`, and privacy
registers the writer in its ``AppConfig.ready()`` (``privacy.services.access_log_record_many``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .hooks import Hook

VIEW = "view"  # privacy.AccessLog.Action's values
EXPORT = "export"

staff_accessed: Hook[Callable[..., object]] = Hook("mindomo.staff_accessed", single=True)


def staff_accessed_record(*, staff: Any, action: str, model: str, rows: Iterable[tuple[object, int | None]]) -> None:
    """``staff`` looked at (``VIEW``) or took away (``EXPORT``) the ``model`` records ``rows``: (record id, the id of
    the person whose data it is, or None). One access-log row per record, written in one statement."""
    staff_accessed.implementation()(staff=staff, action=action, model=model, rows=list(rows))
