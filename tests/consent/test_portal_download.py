"""The parent's zip of their child's data is a background job: the parent asks (POST), follows its progress on a
page whose live region a static script updates from a status URL, and downloads it there. Only that parent, while
the child is theirs, sees the progress, the status or the file: everyone else gets the same 404."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from mindomo.downloads.models import PreparedFile
from mindomo.privacy import registry
from tests.consent.portal_helpers import consented_child, signed_in_parent
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

MUM = "mum.download@example.org"
OTHER = "other.download@example.org"


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def child() -> User:
    return consented_child("zip.kid", MUM)


def _ask(parent: Client, child: User, capture: Any) -> PreparedFile:
    with capture(execute=True):  # the job runs at the commit (Celery is eager in tests)
        response = parent.post(reverse("consent:portal_download", args=[child.pk]))
    prepared = PreparedFile.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("downloads:progress", args=[prepared.public_id])
    return prepared


def test_the_parent_asks_follows_the_progress_and_downloads_the_zip(
    child: User, django_capture_on_commit_callbacks: Any
) -> None:
    mum = signed_in_parent(MUM, django_capture_on_commit_callbacks)
    assert mum.get(reverse("consent:portal_download", args=[child.pk])).status_code == 405  # asking is a POST
    prepared = _ask(mum, child, django_capture_on_commit_callbacks)

    page = mum.get(reverse("downloads:progress", args=[prepared.public_id])).content.decode()
    assert 'role="status" aria-live="polite"' in page
    assert "<script>" not in page.split("</header>", 1)[-1].split("<footer", 1)[0]  # no inline script
    status = mum.get(reverse("downloads:status", args=[prepared.public_id])).json()
    assert status["finished"] is True
    assert status["link_url"] == reverse("downloads:download", args=[prepared.public_id])

    response = mum.get(status["link_url"])
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="mindomo-child-{child.pk}-data.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert {f"{p.name}.json" for p in registry.providers()} <= set(archive.namelist())
    assert json.loads(archive.read("accounts.json"))["profile"]["username"] == "zip.kid"


@pytest.mark.parametrize("viewer", ["other_parent", "no_portal_session", "child_itself", "staff_superuser"])
@pytest.mark.parametrize("name", ["downloads:progress", "downloads:status", "downloads:download"])
def test_nobody_else_sees_the_progress_the_status_or_the_file(
    viewer: str, name: str, child: User, django_capture_on_commit_callbacks: Any, superuser: User
) -> None:
    mum = signed_in_parent(MUM, django_capture_on_commit_callbacks)
    prepared = _ask(mum, child, django_capture_on_commit_callbacks)
    if viewer == "other_parent":
        consented_child("other.kid", OTHER)
        client = signed_in_parent(OTHER, django_capture_on_commit_callbacks)
    elif viewer == "child_itself":
        client = Client()
        client.force_login(child)
    elif viewer == "staff_superuser":
        client = sign_in(Client(), superuser)
    else:
        client = Client()

    response = client.get(reverse(name, args=[prepared.public_id]))
    if name == "downloads:progress" and viewer in ("no_portal_session", "child_itself", "staff_superuser"):
        # the page the "ready" email links to sends whoever is not in the portal to the portal's sign-in
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("consent:portal") + "?next=")
    else:
        assert response.status_code == 404
    assert mum.get(reverse(name, args=[prepared.public_id])).status_code == 200


def test_a_file_that_does_not_exist_looks_the_same(child: User, django_capture_on_commit_callbacks: Any) -> None:
    mum = signed_in_parent(MUM, django_capture_on_commit_callbacks)
    assert mum.get(reverse("downloads:status", args=["6f1c1c56-0000-4000-8000-000000000000"])).status_code == 404


def test_a_parent_whose_child_left_their_care_loses_the_file(
    child: User, django_capture_on_commit_callbacks: Any
) -> None:
    from consent.models import ConsentRecord, ParentalControl

    mum = signed_in_parent(MUM, django_capture_on_commit_callbacks)
    prepared = _ask(mum, child, django_capture_on_commit_callbacks)
    record = ConsentRecord.objects.get(child=child)
    ended = {"age_up_due_at": record.granted_at, "ended_at": record.granted_at}  # the child took over at the age
    ParentalControl.objects.update_or_create(record=record, defaults=ended)

    assert mum.get(reverse("downloads:download", args=[prepared.public_id])).status_code == 404


def test_deleting_the_child_deletes_the_prepared_zip_and_its_stored_file(
    child: User, django_capture_on_commit_callbacks: Any, media_root: Path
) -> None:
    from mindomo import files

    mum = signed_in_parent(MUM, django_capture_on_commit_callbacks)
    prepared = _ask(mum, child, django_capture_on_commit_callbacks)
    prepared.refresh_from_db()
    assert files.exists(prepared.file_name)

    with django_capture_on_commit_callbacks(execute=True):
        response = mum.post(reverse("consent:portal_delete", args=[child.pk]), {"action": "delete", "confirm": "on"})
    assert response.status_code == 200

    assert not PreparedFile.objects.exists()
    assert not files.exists(prepared.file_name)
