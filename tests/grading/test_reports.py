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

from accounts.models import User
from grading.models import Enrollment, Grade, GradeExport, ReportNoticeAcknowledgement
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
    assert "COPPA" in page
    assert "FERPA" in page
    assert "GDPR" in page
    assert "Download CSV" not in page

    download = client.get(reverse("grading:assignment_download", args=[world.assignment.pk, "csv"]))
    assert download.status_code == 302
    assert download["Location"] == report_url
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
    assert "attachment" in response["Content-Disposition"]
    assert ".csv" in response["Content-Disposition"]
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
    assert "Khan" not in flat
    assert "Mia" not in flat
    assert world.student.username not in flat
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
    assert page.count("Plant cells") == 3
    assert page.count("Year 6 Science") == 3


def test_report_page_runs_constant_queries(world: World, django_assert_max_num_queries: Any) -> None:
    _acknowledge(world)
    client = world.client("teacher")
    overhead = _site_overhead(client)
    with django_assert_max_num_queries(overhead + 3):
        response = client.get(reverse("grading:assignment_report", args=[world.assignment.pk]))
    assert "1 grade in this report" in response.content.decode()


def _many_grades(world: World, count: int) -> list[User]:
    """``count`` more graded students in the world's class, with texts that need care in CSV and XML."""
    students = User.objects.bulk_create(
        [
            User(
                username=f"r{i:05d}",
                first_name=["@SUM(A1)", "Zoë", "-2+3", "Ana"][i % 4],
                last_name=f'Dupré "{i:05d}"',
                password="!",
            )
            for i in range(count)
        ]
    )
    Enrollment.objects.bulk_create(
        [Enrollment(school_class=world.school_class, student=s, number=100 + i) for i, s in enumerate(students)]
    )
    Grade.objects.bulk_create(
        [
            Grade(
                assignment=world.assignment,
                student=s,
                score=Decimal(i % 20) + Decimal("0.25"),
                feedback=["line one\nline two, with comma", "=1+1", "tab\there \x0b and <xml> & 'quotes'", ""][i % 4],
                graded_by=world.teacher,
                graded_at=timezone.now(),
            )
            for i, s in enumerate(students)
        ]
    )
    return students


def test_large_csv_and_xlsx_hold_the_same_rows_every_formula_neutralised(world: World) -> None:
    _many_grades(world, 3000)  # several COPY chunks: rows split across chunk borders must stay whole
    _acknowledge(world)
    client = world.client("teacher")
    csv_rows = list(
        csv.reader(
            io.StringIO(
                _body(client.get(reverse("grading:assignment_download", args=[world.assignment.pk, "csv"]))).decode()
            )
        )
    )
    xlsx = _body(client.get(reverse("grading:assignment_download", args=[world.assignment.pk, "xlsx"])))
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True).active
    xlsx_rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(csv_rows) == len(xlsx_rows) == 3002  # header, Mia, 3,000
    assert xlsx_rows[0] == csv_rows[0]
    texts = {v for row in csv_rows[1:] for v in (row[0], row[1], row[2], row[5])}
    assert not {t for t in texts if t[:1] in ("=", "+", "-", "@", "\t", "\r")}
    assert {"'@SUM(A1)", "'-2+3", "'=1+1", "line one\nline two, with comma"} <= texts
    for c, x in zip(csv_rows[1:], xlsx_rows[1:], strict=True):
        assert x[:3] == [v or None for v in c[:3]]
        assert x[3] == float(c[3])
        assert x[4] == float(c[4])
        assert (x[5] or "") == c[5].replace("\x0b", "")  # XML cannot hold a vertical tab: dropped in XLSX only
        assert x[6] == c[6]


def test_xlsx_first_bytes_leave_before_any_row_is_read(world: World) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from grading import reports

    stream = reports.xlsx_stream(viewer=world.teacher, assignment=world.assignment, pseudonymous=False)
    with CaptureQueriesContext(connection) as queries:
        first = next(stream)
    assert first.startswith(b"PK\x03\x04")
    assert len(queries) == 0
    rest = b"".join(stream)
    sheet = load_workbook(io.BytesIO(first + rest), read_only=True).active
    assert [list(r)[:2] for r in sheet.iter_rows(values_only=True)] == [["Last name", "First name"], ["Khan", "Mia"]]


def test_pseudonymous_csv_names_students_by_the_translated_pattern(world: World) -> None:
    from django.utils import translation

    from grading import reports

    with translation.override("en"):
        body = b"".join(reports.csv_stream(viewer=world.teacher, assignment=world.assignment, pseudonymous=True))
    rows = list(csv.reader(io.StringIO(body.decode())))
    number = Enrollment.objects.get(school_class=world.school_class, student=world.student).number
    assert rows[0][0] == "Student number"
    assert rows[1][0] == f"Student {number}"
    assert world.student.last_name not in body.decode()
