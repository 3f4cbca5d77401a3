"""Grade reports of one assignment, streamed as CSV or XLSX from PostgreSQL's ``COPY``.

The rows come from one query built by the ORM on ``grade_list_visible_to`` (the one read path for grades),
with every text a person typed neutralised in SQL (a value starting like a spreadsheet formula gets a
leading apostrophe) and the grading time formatted by PostgreSQL. That query runs as
``COPY (...) TO STDOUT WITH (FORMAT csv)``:

- **CSV**: the translated header line, then COPY's own output, passed on in 64 KiB chunks: no row is ever
  a Python object.
- **XLSX**: the same COPY output parsed by the csv module and written as the worksheet's XML, row by row,
  into a zip stream (deflate, data descriptors, no seeking): the first bytes (the zip's other parts and the
  sheet's header) leave before the first row is read, and memory holds one chunk. A report of more than
  ``REPORT_INLINE_MAX_ROWS`` rows costs seconds of CPU: it is written by a background job instead
  (``xlsx_write``, grading/downloads.py) from the same query, header and neutralisation.

The header is written by us (translated) rather than by COPY's ``HEADER`` option, whose column names
would have to be SQL identifiers (at most 63 bytes, so a long translation would be cut).
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any
from xml.sax.saxutils import escape as xml_escape

from django.db import connection
from django.db.models import CharField, F, Func, OuterRef, QuerySet, Subquery, TextField, Value
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from accounts.models import User

from .models import Assignment, Enrollment
from .selectors import grade_list_visible_to

CHUNK_BYTES = 64 * 1024


class Neutralised(Func):
    """A person's text, made inert for spreadsheets: a value that starts like a formula (``= + - @``, a tab or
    a carriage return) gets a leading apostrophe, as OWASP's CSV-injection guidance has it."""

    function = "regexp_replace"
    template = r"%(function)s(%(expressions)s, '^([=+@\t\r-])', '''\1')"
    output_field = TextField()


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


def _rows_queryset(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> QuerySet[Any]:
    """The report's rows, in order, every column already as the report shows it."""
    grades = (
        grade_list_visible_to(viewer=viewer)
        .filter(assignment=assignment)
        .annotate(
            r_score=F("score"),
            r_max=F("assignment__max_score"),
            r_feedback=Neutralised(F("feedback")),
            r_graded=Func(F("graded_at"), Value("YYYY-MM-DD HH24:MI"), function="to_char", output_field=CharField()),
        )
    )
    tail = ("r_score", "r_max", "r_feedback", "r_graded")
    if pseudonymous:
        number = Enrollment.objects.filter(
            school_class_id=assignment.school_class_id, student_id=OuterRef("student_id")
        ).values("number")[:1]
        label = Func(  # the translated pattern, its placeholder replaced by the number
            Value(_("Student %(number)s"), output_field=TextField()),
            Value("%(number)s", output_field=TextField()),
            Cast(Subquery(number), TextField()),
            function="replace",
            output_field=TextField(),
        )
        return (
            grades.annotate(r_number=Subquery(number), r_who=label)
            .order_by("r_number", "pk")
            .values_list("r_who", *tail)
        )
    return (
        grades.annotate(
            r_last=Neutralised(F("student__last_name")),
            r_first=Neutralised(F("student__first_name")),
            r_username=Neutralised(F("student__username")),
        )
        .order_by("student__last_name", "student__first_name", "student__username", "pk")
        .values_list("r_last", "r_first", "r_username", *tail)
    )


def report_row_count(*, viewer: User, assignment: Assignment) -> int:
    return grade_list_visible_to(viewer=viewer).filter(assignment=assignment).count()


def _copy_chunks(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> Iterator[bytes]:
    """COPY's CSV output of the report's query (no header), in chunks of about CHUNK_BYTES."""
    sql, params = _rows_queryset(
        viewer=viewer, assignment=assignment, pseudonymous=pseudonymous
    ).query.sql_with_params()
    buffer = bytearray()
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
        for block in copy:
            buffer += block
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)


def _csv_line(values: list[str]) -> bytes:
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow(values)
    return line.getvalue().encode()


def csv_stream(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> Iterator[bytes]:
    yield _csv_line(report_header(pseudonymous=pseudonymous))
    yield from _copy_chunks(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous)


# --- XLSX: a SpreadsheetML package written as a stream ---------------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    "</fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_START = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
    'state="frozen"/></sheetView></sheetViews><sheetData>'
)
_SHEET_END = "</sheetData></worksheet>"
# XML 1.0 forbids these control characters even escaped; a stored text could hold one.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: str) -> str:
    return xml_escape(_NOT_XML.sub("", value))


class _Sink(io.RawIOBase):
    """Where the zip writer writes; the stream takes what accumulated after each step."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        self.size = 0
        return out


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def xlsx_stream(*, viewer: User, assignment: Assignment, pseudonymous: bool) -> Iterator[bytes]:
    """The report as an .xlsx, streamed: the zip's fixed parts and the sheet's header row go out first, then
    the rows as COPY delivers them."""
    chunks = _copy_chunks(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous)
    return _xlsx_chunks(report_header(pseudonymous=pseudonymous), chunks)


def xlsx_write(
    handle: IO[bytes],
    *,
    viewer: User,
    assignment: Assignment,
    pseudonymous: bool,
    rows_done: Callable[[int], None] | None = None,
) -> int:
    """The same .xlsx written into ``handle`` by a background job (a report too large for a request): COPY's
    output first spooled to a temporary file (COPY is cheap, and the connection is free again afterwards, so
    ``rows_done(n)`` may write the job's progress between chunks), then the sheet written from it. Returns the
    number of rows."""
    with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK_BYTES) as spool:
        for chunk in _copy_chunks(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous):
            spool.write(chunk)
        spool.seek(0)
        counted = [0]

        def counting(rows: int) -> None:
            counted[0] = rows
            if rows_done is not None:
                rows_done(rows)

        spooled = iter(lambda: spool.read(CHUNK_BYTES), b"")
        for part in _xlsx_chunks(report_header(pseudonymous=pseudonymous), spooled, counting):
            handle.write(part)
    return counted[0]


def _xlsx_chunks(
    header: list[str], chunks: Iterator[bytes], rows_done: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """A SpreadsheetML package of ``header`` and the CSV records of ``chunks``, written as a stream. Text cells
    are inline strings (no shared-string table to build first); score and maximum score are numbers.
    ``rows_done(n)`` hears the rows written so far after each chunk."""
    numeric = {len(header) - 4, len(header) - 3}  # score, maximum score
    columns = [chr(ord("A") + i) for i in range(len(header))]
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compresslevel=1) as package:
        package.writestr(_zip_entry("[Content_Types].xml"), _CONTENT_TYPES)
        package.writestr(_zip_entry("_rels/.rels"), _ROOT_RELS)
        package.writestr(_zip_entry("xl/workbook.xml"), _WORKBOOK.format(name=_text(_("Grades")[:31])))
        package.writestr(_zip_entry("xl/_rels/workbook.xml.rels"), _WORKBOOK_RELS)
        package.writestr(_zip_entry("xl/styles.xml"), _STYLES)
        with package.open(_zip_entry("xl/worksheets/sheet1.xml"), mode="w") as sheet:
            cells = "".join(
                f'<c r="{col}1" t="inlineStr" s="1"><is><t>{_text(title)}</t></is></c>'
                for col, title in zip(columns, header, strict=True)
            )
            sheet.write(f'{_SHEET_START}<row r="1">{cells}</row>'.encode())
            yield sink.take()
            number = 1
            pending = io.StringIO()
            for chunk in chunks:
                pending.write(chunk.decode())
                pending.seek(0)
                text = pending.read()
                cut = _last_row_end(text)
                rows, rest = text[:cut], text[cut:]
                pending = io.StringIO()
                pending.write(rest)
                out = []
                for row in csv.reader(io.StringIO(rows)):
                    number += 1
                    out.append(f'<row r="{number}">')
                    for i, value in enumerate(row):
                        if not value:
                            continue
                        if i in numeric:
                            out.append(f'<c r="{columns[i]}{number}"><v>{value}</v></c>')
                        else:
                            out.append(f'<c r="{columns[i]}{number}" t="inlineStr"><is><t>{_text(value)}</t></is></c>')
                    out.append("</row>")
                sheet.write("".join(out).encode())
                if rows_done is not None:
                    rows_done(number - 1)
                if sink.size >= CHUNK_BYTES:
                    yield sink.take()
            sheet.write(_SHEET_END.encode())
    yield sink.take()


def _last_row_end(text: str) -> int:
    """The end of the last complete CSV record in ``text`` (a newline outside quotes), 0 if there is none."""
    quoted = False
    end = 0
    start = 0
    while True:
        newline = text.find("\n", start)
        if newline < 0:
            return end
        quoted ^= text.count('"', start, newline) % 2 == 1
        if not quoted:
            end = newline + 1
        start = newline + 1
