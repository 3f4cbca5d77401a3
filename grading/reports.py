"""Grade reports of one assignment as streamed CSV or XLSX (openpyxl write-only): memory stays flat.

Rows are read through ``grade_list_visible_to`` like every other read of grades.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from typing import Any

from django.db.models import CharField, F, Func, OuterRef, Subquery, Value
from django.utils.translation import gettext as _
from openpyxl import Workbook

from accounts.models import User

from .models import Assignment, Enrollment
from .selectors import grade_list_visible_to

CHUNK_ROWS = 2000
FILE_CHUNK_BYTES = 64 * 1024
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    """Spreadsheets run cells that start like a formula; names and feedback are text, never formulas."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


def report_header(*, pseudonymous: bool) -> list[str]:
    if pseudonymous:
        return [_("Student number"), _("Score"), _("Maximum score"), _("Feedback"), _("Graded at")]
    return [
        _("Last name"),
        _("First name"),
        _("Username"),
        _("Score"),
        _("Maximum score"),
        _("Feedback"),
        _("Graded at"),
    ]


def _graded_at() -> Func:
    """The grading time as text, formatted by PostgreSQL (in the connection's UTC): parsing 100,000
    timestamps into Python datetimes only to print them again costs more than the rest of a row."""
    return Func(F("graded_at"), Value("YYYY-MM-DD HH24:MI"), function="to_char", output_field=CharField())


def _rows_queryset(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> Any:
    grades = grade_list_visible_to(viewer=viewer).filter(assignment=assignment).annotate(graded=_graded_at())
    if pseudonymous:
        number = Enrollment.objects.filter(
            school_class_id=assignment.school_class_id, student_id=OuterRef("student_id")
        )
        return (
            grades.annotate(number=Subquery(number.values("number")[:1]))
            .order_by("number", "pk")
            .values_list("number", "score", "feedback", "graded")
        )
    return grades.order_by("student__last_name", "student__first_name", "student__username", "pk").values_list(
        "student__last_name", "student__first_name", "student__username", "score", "feedback", "graded"
    )


def report_row_count(*, viewer: User, assignment: Assignment) -> int:
    return grade_list_visible_to(viewer=viewer).filter(assignment=assignment).count()


def report_rows(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> Iterator[list[Any]]:
    max_score = assignment.max_score
    for row in _rows_queryset(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous).iterator(
        chunk_size=CHUNK_ROWS
    ):
        *who, score, feedback, graded_at = row
        if pseudonymous:
            who = [_("Student %(number)s") % {"number": who[0]}]
        yield [*(_safe(v) for v in who), score, max_score, _safe(feedback), graded_at]


def csv_stream(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(report_header(pseudonymous=pseudonymous))
    count = 0
    for row in report_rows(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous):
        writer.writerow(row)
        count += 1
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_stream(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> Iterator[bytes]:
    """Build the workbook in write-only mode (rows go to a temporary file, not memory), then stream the file."""
    with tempfile.TemporaryFile() as spool:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=_("Grades")[:31])
        sheet.append(report_header(pseudonymous=pseudonymous))
        for row in report_rows(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous):
            sheet.append(row)
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(FILE_CHUNK_BYTES):
            yield chunk
