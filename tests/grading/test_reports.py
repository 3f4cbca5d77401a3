"""Grade reports: the privacy notice first, streamed CSV/XLSX, pseudonymous variant, every download logged."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from grading.models import Grade, GradeExport, ReportNoticeAcknowledgement
from tests.grading.conftest import SECRET_FEEDBACK, World
from tests.grading.test_gradebook import _site_overhead


def _body(response: Any) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def _acknowledge(world: World) -> None:
    response = world.client("teacher").post(
        reverse("grading:assignment_report", args=[world.assignment.pk]), {"acknowledge": "on"}
    )
    assert response.status_code == 302


def test_notice_must_be_acknowledged_before_the_first_download(world: World) -> None:
    client = world.client("teacher")
    report_url = reverse("grading:assignment_report", args=[world.assignment.pk])
    page = client.get(report_url).content.decode()
    assert "COPPA" in page and "FERPA" in page and "GDPR" in page
    assert "Download CSV" not in page

    download = client.get(reverse("grading:assignment_download", args=[world.assignment.pk, "csv"]))
    assert download.status_code == 302 and download["Location"] == report_url
    assert GradeExport.objects.count() == 0

    # an unticked box is refused
    assert client.post(report_url, {}).status_code == 400
    assert not ReportNoticeAcknowledgement.objects.exists()

    _acknowledge(world)
    assert "Download CSV" in client.get(report_url).content.decode()


def test_csv_download_is_streamed_and_logged(world: World) -> None:
    Grade.objects.create(
        assignment=world.assignment,
        student=world.other_student,
        score=Decimal("9"),
        feedback="=HYPERLINK(1)",
        graded_at=timezone.now(),
    )
    _acknowledge(world)
    response = world.client("teacher").get(reverse("grading:assignment_download", args=[world.assignment.pk, "csv"]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"] and ".csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(_body(response).decode())))
    assert rows[0] == ["Last name", "First name", "Username", "Score", "Maximum score", "Feedback", "Graded at"]
    assert [r[:6] for r in rows[1:]] == [
        ["Khan", "Mia", world.student.username, "17.50", "20.00", SECRET_FEEDBACK],
        ["Okafor", "Leo", world.other_student.username, "9.00", "20.00", "'=HYPERLINK(1)"],  # never a formula
    ]
    assert rows[1][6] == world.grade.graded_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    log = GradeExport.objects.get()
    assert (log.teacher, log.assignment, log.format, log.row_count, log.pseudonymous) == (
        world.teacher,
        world.assignment,
        "csv",
        2,
        False,
    )


def test_pseudonymous_xlsx_has_student_numbers_and_no_names(world: World) -> None:
    _acknowledge(world)
    url = reverse("grading:assignment_download", args=[world.assignment.pk, "xlsx"]) + "?pseudonymous=1"
    response = world.client("teacher").get(url)
    assert response.status_code == 200
    body = _body(response)
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0] == "Student number"
    assert rows[1][:4] == ["Student 1", 17.5, 20, SECRET_FEEDBACK]
    flat = repr(rows)
    assert "Khan" not in flat and "Mia" not in flat and world.student.username not in flat
    log = GradeExport.objects.get()
    assert (log.format, log.pseudonymous, log.row_count) == ("xlsx", True, 1)


def test_unknown_format_is_not_found(world: World) -> None:
    _acknowledge(world)
    response = world.client("teacher").get(f"/grading/assignments/{world.assignment.pk}/report.pdf")
    assert response.status_code == 404
    assert GradeExport.objects.count() == 0


def test_export_history_lists_each_download(world: World, django_assert_max_num_queries: Any) -> None:
    _acknowledge(world)
    client = world.client("teacher")
    for fmt in ("csv", "xlsx", "csv"):
        _body(client.get(reverse("grading:assignment_download", args=[world.assignment.pk, fmt])))
    overhead = _site_overhead(client)
    with django_assert_max_num_queries(overhead + 1):
        page = client.get(reverse("grading:export_history")).content.decode()
    assert page.count("Plant cells") == 3 and page.count("Year 6 Science") == 3


def test_report_page_runs_constant_queries(world: World, django_assert_max_num_queries: Any) -> None:
    _acknowledge(world)
    client = world.client("teacher")
    overhead = _site_overhead(client)
    with django_assert_max_num_queries(overhead + 3):
        response = client.get(reverse("grading:assignment_report", args=[world.assignment.pk]))
    assert "1 grade in this report" in response.content.decode()
