"""The export page follows the progress without reloading: a status URL (JSON) polled by a static script
into a live region; no meta refresh, no inline script."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import DataExport, User

pytestmark = pytest.mark.django_db


def _export(user: User, **fields: object) -> DataExport:
    return DataExport.objects.create(public_id=uuid.uuid4(), user=user, parts_total=7, **fields)


def test_the_page_has_a_polled_live_region_and_no_meta_refresh(member: User, member_client: Client) -> None:
    export = _export(member, parts_done=3)
    html = member_client.get(reverse("accounts:data_export")).content.decode()
    assert f'data-poll-url="{reverse("accounts:data_export_status", args=[export.public_id])}"' in html
    assert 'role="status"' in html
    assert "3 of 7 parts collected" in html
    assert "http-equiv" not in html
    assert "<script>" not in html


def test_the_status_says_how_far_the_export_got(member: User, member_client: Client) -> None:
    export = _export(member, parts_done=3)
    data = member_client.get(reverse("accounts:data_export_status", args=[export.public_id])).json()
    assert data == {"state": "pending", "done": 3, "total": 7, "text": "3 of 7 parts collected", "finished": False}


def test_a_ready_export_gives_the_download_link(member: User, member_client: Client) -> None:
    export = _export(
        member,
        parts_done=7,
        state=DataExport.State.READY,
        file_name="x.zip",
        expires_at=timezone.now() + timedelta(days=7),
    )
    data = member_client.get(reverse("accounts:data_export_status", args=[export.public_id])).json()
    assert data["finished"] is True
    assert data["link_url"] == reverse("accounts:data_export_download", args=[export.public_id])


@pytest.mark.parametrize("viewer", ["anonymous", "other member", "staff"])
def test_nobody_else_reads_the_status(member: User, other_member: User, superuser: User, viewer: str) -> None:
    export = _export(member, parts_done=3)
    client = Client()
    if viewer == "other member":
        client.force_login(other_member)
    elif viewer == "staff":
        client.force_login(superuser)
    response = client.get(reverse("accounts:data_export_status", args=[export.public_id]))
    # staff without their second factor are sent to sign in; everyone else gets the same 404 as a missing export
    assert response.status_code == (302 if viewer in ("anonymous", "staff") else 404)
    assert b"parts collected" not in response.content
