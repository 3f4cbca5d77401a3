"""Data export: the request, the Celery-built zip (a JSON per privacy provider and a readable index),
the owner-only download, the expiry that deletes the file."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import DataExport, User
from mindomo import files
from mindomo.privacy import registry
from tests.accounts.factories import UserFactory
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _stored(media_root: Path) -> list[str]:
    """The names in the file storage's exports/ folder (local files in tests: mindomo/files.py)."""
    folder = media_root / "exports"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _request_export(client: Client, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(reverse("accounts:data_export"))


def test_a_member_asks_for_an_export_and_downloads_a_zip_with_every_providers_json(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any, media_root: Path
) -> None:
    response = _request_export(member_client, django_capture_on_commit_callbacks)
    assert response.status_code == 302

    export = DataExport.objects.get(user=member)
    assert export.state == DataExport.State.READY
    assert (export.parts_done, export.parts_total) == (len(registry.providers()), len(registry.providers()))
    assert export.expires_at == export.ready_at + timedelta(days=7)
    stored = media_root / "exports" / export.file_name
    assert stored.is_file()
    assert len(export.file_name) > 40
    assert [m.to for m in mail.outbox] == [[member.email]]
    assert "/account/data/" in mail.outbox[0].body

    download = member_client.get(reverse("accounts:data_export_download", args=[export.public_id]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert download["Cache-Control"] == "private, no-store"
    assert "attachment" in download["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert set(archive.namelist()) == {"index.html"} | {f"{p.name}.json" for p in registry.providers()}
    accounts = json.loads(archive.read("accounts.json"))
    assert accounts["profile"]["email"] == member.email
    assert accounts["profile"]["last_name"] == "Lovelace"
    index = archive.read("index.html").decode()
    assert "Lovelace" in index
    assert "accounts.json" in index
    assert "<script" not in index
    assert "http" not in index.split("</style>", 1)[1]


def test_the_readable_index_escapes_what_the_user_typed(
    member_client: Client, member: User, django_capture_on_commit_callbacks: Any
) -> None:
    User.objects.filter(pk=member.pk).update(first_name="<script>alert(1)</script>")
    _request_export(member_client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=member)
    index = zipfile.ZipFile(services.data_export_open(export)).read("index.html").decode()
    assert "<script>alert(1)" not in index
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index


def test_a_second_request_while_one_is_being_prepared_is_refused(member: User, member_client: Client) -> None:
    first = services.data_export_request(user=member)  # on_commit never runs here: it stays pending

    response = member_client.post(reverse("accounts:data_export"), follow=True)

    assert "An export of your data is already being prepared." in response.content.decode()
    assert list(DataExport.objects.filter(user=member).values_list("pk", flat=True)) == [first.pk]


def _page_queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("accounts:data_export")).status_code == 200
    return len(queries)


def test_the_page_shows_the_progress_and_follows_it_without_reloading(member: User, member_client: Client) -> None:
    DataExport.objects.create(public_id=uuid.uuid4(), user=member, state=DataExport.State.FAILED)
    _page_queries(member_client)  # warm-up: the first page of a session does some one-off work
    baseline = _page_queries(member_client)
    for _i in range(3):
        DataExport.objects.create(public_id=uuid.uuid4(), user=member, state=DataExport.State.FAILED)
    export = services.data_export_request(user=member)
    DataExport.objects.filter(pk=export.pk).update(state=DataExport.State.BUILDING, parts_done=2, parts_total=5)

    assert _page_queries(member_client) == baseline  # one query for the exports, however many
    response = member_client.get(reverse("accounts:data_export"))

    html = response.content.decode()
    assert '<meta http-equiv="refresh"' not in html
    assert f'data-poll-url="{reverse("accounts:data_export_status", args=[export.public_id])}"' in html
    assert '<progress max="5" value="2"' in html
    assert "2 of 5 parts collected" in html
    assert "Request a copy of my data" not in html


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("owner", 200), ("other_member", 404), ("superuser", 404)],
)
def test_only_the_signed_in_owner_downloads_an_export(
    role: str, status: int, member: User, request: pytest.FixtureRequest, django_capture_on_commit_callbacks: Any
) -> None:
    owner = Client()
    owner.force_login(member)
    _request_export(owner, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=member)
    client = Client()
    if role == "owner":
        client = owner
    elif role != "anonymous":
        sign_in(client, request.getfixturevalue(role))

    response = client.get(reverse("accounts:data_export_download", args=[export.public_id]))

    assert response.status_code == status
    if role == "anonymous":
        assert response["Location"].startswith(reverse("account_login"))
    assert files.exists(services.data_export_name(export))


def test_expiry_deletes_the_files_in_one_pass_and_the_download_is_gone(
    django_capture_on_commit_callbacks: Any, media_root: Path
) -> None:
    users = UserFactory.create_batch(3)
    clients = []
    for user in users:
        client = Client()
        sign_in(client, user)
        _request_export(client, django_capture_on_commit_callbacks)
        clients.append(client)
    fresh_user = UserFactory()
    fresh = Client()
    fresh.force_login(fresh_user)
    _request_export(fresh, django_capture_on_commit_callbacks)
    DataExport.objects.filter(user__in=users).update(expires_at=timezone.now() - timedelta(minutes=1))
    old = DataExport.objects.get(user=users[0])

    with django_capture_on_commit_callbacks(execute=True):
        expired = services.data_exports_expire(batch_size=2)

    assert expired == 3
    assert set(DataExport.objects.filter(user__in=users).values_list("state", "file_name")) == {("expired", "")}
    assert _stored(media_root) == [DataExport.objects.get(user=fresh_user).file_name]
    response = clients[0].get(reverse("accounts:data_export_download", args=[old.public_id]))
    assert response.status_code == 410
    assert "expired and its file was deleted" in response.content.decode()
    assert services.data_exports_expire() == 0  # idempotent


def test_a_provider_failing_leaves_a_failed_export_and_no_file(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any, monkeypatch: Any, media_root: Path
) -> None:
    def broken(user: User) -> dict[str, Any]:
        raise RuntimeError("export backend down")

    monkeypatch.setattr(registry.get("grading"), "export", broken)

    _request_export(member_client, django_capture_on_commit_callbacks)

    export = DataExport.objects.get(user=member)
    assert (export.state, export.file_name) == (DataExport.State.FAILED, "")
    assert _stored(media_root) == []
    assert mail.outbox == []
    page = member_client.get(reverse("accounts:data_export")).content.decode()
    assert "The export could not be built. Please ask again." in page
    assert "Request a copy of my data" in page


def test_the_retention_engine_expires_export_files_and_its_dry_run_lists_the_same(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any, media_root: Path
) -> None:
    from privacy.services import retention_apply

    _request_export(member_client, django_capture_on_commit_callbacks)
    export = DataExport.objects.get(user=member)
    later = export.expires_at + timedelta(seconds=1)  # type: ignore[operator]

    [dry] = retention_apply(now=later, dry_run=True, rules=["accounts.data_export_files"])
    assert dry.pks == [export.pk]
    assert files.exists(services.data_export_name(export))
    with django_capture_on_commit_callbacks(execute=True):
        [real] = retention_apply(now=later, rules=["accounts.data_export_files"])

    assert real.count == 1
    export.refresh_from_db()
    assert (export.state, export.file_name) == (DataExport.State.EXPIRED, "")
    assert _stored(media_root) == []


def test_an_export_interrupted_long_ago_does_not_block_a_new_request(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    stuck = services.data_export_request(user=member)
    DataExport.objects.filter(pk=stuck.pk).update(
        state=DataExport.State.BUILDING, requested_at=timezone.now() - timedelta(hours=2)
    )

    _request_export(member_client, django_capture_on_commit_callbacks)

    states = dict(DataExport.objects.filter(user=member).values_list("pk", "state"))
    assert states.pop(stuck.pk) == DataExport.State.FAILED
    assert list(states.values()) == [DataExport.State.READY]


def test_an_export_deleted_while_it_was_built_leaves_no_file(member: User, media_root: Path, monkeypatch: Any) -> None:
    export = services.data_export_request(user=member)
    real_export = registry.get("support").export

    def export_then_vanish(user: User) -> dict[str, Any]:
        DataExport.objects.filter(pk=export.pk).delete()  # e.g. the account's erasure ran meanwhile
        return real_export(user)

    monkeypatch.setattr(registry.get("support"), "export", export_then_vanish)

    assert services.data_export_build(export_id=export.pk) is None
    assert _stored(media_root) == []


def test_an_export_folder_that_cannot_be_created_leaves_a_failed_export_and_the_person_asks_again_at_once(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any, media_root: Path, settings: Any
) -> None:
    (media_root / "blocked").write_text("a file where the folder should be")
    settings.MEDIA_ROOT = media_root / "blocked"  # mkdir of MEDIA_ROOT/exports fails (NotADirectoryError)

    _request_export(member_client, django_capture_on_commit_callbacks)

    export = DataExport.objects.get(user=member)
    assert (export.state, export.file_name) == (DataExport.State.FAILED, "")
    assert "Please ask again" in member_client.get(reverse("accounts:data_export")).content.decode()

    settings.MEDIA_ROOT = media_root
    _request_export(member_client, django_capture_on_commit_callbacks)  # no waiting
    assert DataExport.objects.filter(user=member, state=DataExport.State.READY).count() == 1


def _died_mid_build(export: DataExport, *, attempts: int, media_root: Path) -> Path:
    """What a worker killed in the middle of a build leaves: `building` since its start, some parts collected, and
    nothing in the file storage (the half-written archive was the dead worker's temporary file). A stray file of
    an older version's build is left to the test to check."""
    long_ago = timezone.now() - services.export_stale_after() - timedelta(seconds=1)
    DataExport.objects.filter(pk=export.pk).update(
        state=DataExport.State.BUILDING, started_at=long_ago, attempts=attempts, parts_done=2
    )
    return media_root / "exports" / f".{export.public_id}.part"


def test_an_export_whose_worker_died_mid_build_is_built_again_by_beat_and_a_live_build_is_left_alone(
    member: User, media_root: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from accounts.tasks import data_export_build_task, data_exports_resume_task

    assert settings.CELERY_BEAT_SCHEDULE["accounts-resume-data-exports"]["task"] == (
        "accounts.tasks.data_exports_resume_task"
    )
    dead = services.data_export_request(user=member)  # no commit in this test: its build never ran
    partial = _died_mid_build(dead, attempts=1, media_root=media_root)
    other = UserFactory()
    live = services.data_export_request(user=other)
    DataExport.objects.filter(pk=live.pk).update(state=DataExport.State.BUILDING, started_at=timezone.now(), attempts=1)

    data_export_build_task.delay(live.pk)  # a duplicate message while it runs: nothing
    assert DataExport.objects.get(pk=live.pk).attempts == 1
    with django_capture_on_commit_callbacks(execute=True):  # the ready email
        assert data_exports_resume_task.delay().get() == 1

    dead.refresh_from_db()
    assert (dead.state, dead.attempts) == (DataExport.State.READY, 2)
    assert dead.parts_done == dead.parts_total
    assert not partial.exists()
    assert _stored(media_root) == [dead.file_name]  # one save of the whole archive, nothing half-written
    assert [m.to for m in mail.outbox] == [[member.email]]
    live.refresh_from_db()
    assert (live.state, live.attempts) == (DataExport.State.BUILDING, 1)


def test_an_export_whose_builds_keep_dying_is_given_up_and_the_person_asks_again_at_once(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any, media_root: Path
) -> None:
    from accounts.tasks import data_exports_resume_task

    export = services.data_export_request(user=member)
    partial = _died_mid_build(export, attempts=services.EXPORT_BUILD_ATTEMPTS, media_root=media_root)

    assert data_exports_resume_task.delay().get() == 1

    export.refresh_from_db()
    assert (export.state, export.attempts, export.file_name) == (DataExport.State.FAILED, 2, "")
    assert not partial.exists()
    assert mail.outbox == []
    assert data_exports_resume_task.delay().get() == 0  # failed is final
    assert "Please ask again" in member_client.get(reverse("accounts:data_export")).content.decode()
    _request_export(member_client, django_capture_on_commit_callbacks)
    assert DataExport.objects.filter(user=member, state=DataExport.State.READY).count() == 1
