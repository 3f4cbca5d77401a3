"""A child's data for the parent, prepared off the request (mindomo.downloads): the zip of every provider's
export is built by a Celery job, so a child with thousands of grades costs the parent's request nothing."""

from __future__ import annotations

import shutil
from typing import IO

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from mindomo.downloads import registry
from mindomo.downloads.models import PreparedFile
from mindomo.downloads.services import prepared_file_request

from ..models import ConsentRecord
from . import actions, reads, session

CHILD_ARCHIVE = "consent.portal_archive"


def child_archive_request(*, record: ConsentRecord, parent_email: str) -> PreparedFile:
    """The parent asks for their child's data: a job builds the zip. A school-registered child's data is asked of
    the school (ValidationError, as for the download it replaces)."""
    actions.portal_child_archive_allowed(record=record)
    return prepared_file_request(
        kind=CHILD_ARCHIVE,
        owner_email=parent_email,
        subject=record.child,
        params={"child_id": record.child_id},
        download_name=f"mindomo-child-{record.child_id}-data.zip",
        content_type="application/zip",
    )


def _record(prepared: PreparedFile) -> ConsentRecord | None:
    """The child's record while the asking parent still has it (the portal's one protected read)."""
    return (
        reads.records_visible_to_parent(email=prepared.owner_email)
        .filter(child_id=prepared.params.get("child_id"))
        .first()
    )


def _build(prepared: PreparedFile, handle: IO[bytes], progress: registry.Progress) -> None:
    record = _record(prepared)
    if record is None:
        raise ValidationError(gettext("This child's account is no longer in your care."))
    with actions.portal_child_archive(record=record) as archive:
        shutil.copyfileobj(archive, handle)
    progress(1, 1)


def _allowed(request: HttpRequest, prepared: PreparedFile) -> bool:
    """Only the parent who asked, signed in to the portal, while the child is still theirs."""
    email = session.portal_email(request)
    if not email or reads.normal_email(email) != prepared.owner_email:
        return False
    return _record(prepared) is not None


def _in_portal(request: HttpRequest) -> bool:
    return bool(session.portal_email(request))


def _back(prepared: PreparedFile) -> str:
    return reverse("consent:portal_child", args=[prepared.params["child_id"]])


def register() -> None:
    registry.register(
        registry.Kind(
            name=CHILD_ARCHIVE,
            build=_build,
            allowed=_allowed,
            back_url=_back,
            title=_("Your child's data (zip)"),
            sign_in="consent:portal",  # the portal's sign-in by emailed link, not an account's
            signed_in=_in_portal,
        )
    )
