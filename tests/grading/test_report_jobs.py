"""Large XLSX grade reports are prepared by a background job (mindomo.downloads): above REPORT_INLINE_MAX_ROWS the
report page offers "Prepare XLSX" (a POST) instead of the streamed link, the job writes the same rows as the
streamed report (the teacher's visibility, formulas neutralised, the header in the teacher's language), and only
that teacher, while they teach the class, sees its progress and downloads it. CSV always streams."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from grading import downloads
from grading.models import GradeExport
from mindomo.downloads.models import PreparedFile
from schools.models import SchoolMembership
from tests.grading.conftest import SECRET_FEEDBACK, World
from tests.grading.test_reports import _acknowledge, _body, _many_grades

FILE_PAGES = ["downloads:progress", "downloads:status", "downloads:download"]


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def small_threshold(settings: Any) -> None:
    settings.REPORT_INLINE_MAX_ROWS = 2


def _prepare(client: Client, world: World, capture: Any, *, execute: bool = True, **data: str) -> PreparedFile:
    with capture(execute=execute):
        response = client.post(reverse("grading:assignment_prepare", args=[world.assignment.pk]), data)
    prepared = PreparedFile.objects.order_by("-pk").first()
    assert prepared is not None
    assert response.status_code == 302
    assert response["Location"] == reverse("downloads:progress", args=[prepared.public_id])
    return prepared


def _xlsx_rows(client: Client, prepared: PreparedFile) -> list[list[Any]]:
    status = client.get(reverse("downloads:status", args=[prepared.public_id])).json()
    assert status["state"] == "ready", status
    response = client.get(status["link_url"])
    assert response["Content-Type"] == downloads.XLSX
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    return [list(r) for r in sheet.iter_rows(values_only=True)]


def test_the_threshold_decides_between_streaming_and_a_job(world: World, settings: Any) -> None:
    _many_grades(world, 2)  # 3 rows with Mia's
    _acknowledge(world)
    client = world.client("teacher")
    report_url = reverse("grading:assignment_report", args=[world.assignment.pk])
    xlsx_url = reverse("grading:assignment_download", args=[world.assignment.pk, "xlsx"])
    csv_url = reverse("grading:assignment_download", args=[world.assignment.pk, "csv"])

    settings.REPORT_INLINE_MAX_ROWS = 3  # at the threshold: streamed
    page = client.get(report_url).content.decode()
    assert xlsx_url in page
    assert reverse("grading:assignment_prepare", args=[world.assignment.pk]) not in page
    assert client.get(xlsx_url).streaming

    settings.REPORT_INLINE_MAX_ROWS = 2  # above it: prepared by a job, the streamed XLSX refused
    page = client.get(report_url).content.decode()
    assert xlsx_url not in page
    assert reverse("grading:assignment_prepare", args=[world.assignment.pk]) in page
    assert "Prepare XLSX" in page
    refused = client.get(xlsx_url)
    assert refused.status_code == 302
    assert refused["Location"] == report_url
    assert GradeExport.objects.filter(format="xlsx").count() == 1  # only the streamed one
    assert client.get(csv_url).streaming  # CSV always streams: COPY does the work
    assert not PreparedFile.objects.exists()


def test_the_job_writes_the_same_rows_as_the_streamed_report(
    world: World, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _many_grades(world, 1500)  # several COPY chunks
    _acknowledge(world)
    client = world.client("teacher")
    streamed = list(
        csv.reader(
            io.StringIO(
                _body(client.get(reverse("grading:assignment_download", args=[world.assignment.pk, "csv"]))).decode()
            )
        )
    )
    settings.REPORT_INLINE_MAX_ROWS = 100

    prepared = _prepare(client, world, django_capture_on_commit_callbacks)

    rows = _xlsx_rows(client, prepared)
    assert len(rows) == len(streamed) == 1502
    assert (
        rows[0]
        == streamed[0]
        == ["Last name", "First name", "Username", "Score", "Maximum score", "Feedback", "Graded at"]
    )
    for x, c in zip(rows[1:], streamed[1:], strict=True):
        assert x[:3] == [v or None for v in c[:3]]
        assert x[3] == float(c[3])
        assert (x[5] or "") == c[5].replace("\x0b", "")
    texts = {v for row in rows[1:] for v in (row[0], row[1], row[5]) if isinstance(v, str)}
    assert not {t for t in texts if t[:1] in ("=", "+", "-", "@")}  # every formula neutralised
    assert {"'@SUM(A1)", "'=1+1"} <= texts
    prepared.refresh_from_db()
    assert (prepared.parts_done, prepared.parts_total) == (1501, 1501)
    log = GradeExport.objects.filter(format="xlsx").get()  # the job records the download in the history
    assert (log.teacher, log.row_count, log.pseudonymous) == (world.teacher, 1501, False)


def test_the_pseudonymous_job_in_the_teachers_language(
    world: World, small_threshold: None, django_capture_on_commit_callbacks: Any
) -> None:
    _many_grades(world, 3)
    _acknowledge(world)
    client = world.client("teacher")
    client.cookies["django_language"] = "de"

    prepared = _prepare(client, world, django_capture_on_commit_callbacks, pseudonymous="1")

    rows = _xlsx_rows(client, prepared)
    assert prepared.language == "de"
    assert rows[0][:2] == ["Schülernummer", "Punktzahl"]
    assert rows[1][:4] == ["Schüler 1", 17.5, 20, SECRET_FEEDBACK]
    assert "Khan" not in repr(rows)
    assert prepared.download_name.endswith("-pseudonymous.xlsx")


def test_a_double_submit_makes_one_job(
    world: World, small_threshold: None, django_capture_on_commit_callbacks: Any
) -> None:
    _many_grades(world, 3)
    _acknowledge(world)
    client = world.client("teacher")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = client.post(reverse("grading:assignment_prepare", args=[world.assignment.pk]))
        second = client.post(reverse("grading:assignment_prepare", args=[world.assignment.pk]))
        pseudonymous = client.post(
            reverse("grading:assignment_prepare", args=[world.assignment.pk]), {"pseudonymous": "1"}
        )
    assert first["Location"] == second["Location"] != pseudonymous["Location"]
    assert PreparedFile.objects.count() == 2  # the pseudonymous report is another file
    assert len(callbacks) == 2


def test_no_job_before_the_notice_is_acknowledged(world: World, small_threshold: None) -> None:
    response = world.client("teacher").post(reverse("grading:assignment_prepare", args=[world.assignment.pk]))
    assert response["Location"] == reverse("grading:assignment_report", args=[world.assignment.pk])
    assert not PreparedFile.objects.exists()


def test_a_teacher_who_left_the_school_loses_the_file_and_the_job_writes_nothing(
    world: World, small_threshold: None, django_capture_on_commit_callbacks: Any
) -> None:
    _many_grades(world, 3)
    _acknowledge(world)
    client = world.client("teacher")
    prepared = _prepare(client, world, django_capture_on_commit_callbacks, execute=False)
    SchoolMembership.objects.filter(user=world.teacher, role=SchoolMembership.Role.TEACHER).delete()

    from mindomo.downloads.services import prepared_file_build

    built = prepared_file_build(prepared_id=prepared.pk)

    assert built is not None
    assert (built.state, built.file_name) == ("failed", "")
    assert built.error == "You no longer teach this class."
    for name in FILE_PAGES:
        assert client.get(reverse(name, args=[prepared.public_id])).status_code == 404


@pytest.mark.parametrize(
    "viewer", ["other_teacher", "foreign_teacher", "student", "admin", "superuser", "privacy_officer", "anonymous"]
)
@pytest.mark.parametrize("name", FILE_PAGES)
def test_nobody_but_the_teacher_sees_the_progress_the_status_or_the_file(
    viewer: str, name: str, world: World, small_threshold: None, django_capture_on_commit_callbacks: Any
) -> None:
    _many_grades(world, 3)
    _acknowledge(world)
    prepared = _prepare(world.client("teacher"), world, django_capture_on_commit_callbacks)

    response = world.client(viewer).get(reverse(name, args=[prepared.public_id]))
    if name == "downloads:progress" and viewer == "anonymous":  # the emailed link: sign in first, then back here
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login") + "?next=")
    else:
        assert response.status_code == 404
    assert world.client("teacher").get(reverse(name, args=[prepared.public_id])).status_code == 200


@pytest.mark.parametrize("name", FILE_PAGES)
def test_a_tampered_or_unknown_id_is_not_found(
    name: str, world: World, small_threshold: None, django_capture_on_commit_callbacks: Any
) -> None:
    _many_grades(world, 3)
    _acknowledge(world)
    client = world.client("teacher")
    prepared = _prepare(client, world, django_capture_on_commit_callbacks)
    tampered = str(prepared.public_id)[:-1] + ("0" if str(prepared.public_id)[-1] != "0" else "1")

    assert client.get(reverse(name, args=[tampered])).status_code == 404
    assert client.get(reverse(name, args=[uuid.uuid4()])).status_code == 404
