"""Grades: a student's own; a teacher's classes, roster, assignments, gradebook (read and bulk write: any bad cell
saves nothing) and grade reports (after the privacy notice). Every read goes through grading's viewer-taking
selectors, so "not yours" and "not there" answer the same 404. Staff have no grade access here (the privacy
officer's logged path is the admin)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from ninja import Field, Query, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from grading import selectors, services
from grading.downloads import report_is_inline
from grading.forms import Gradebook
from grading.models import Assignment, GradeExport, SchoolClass
from grading.reports import csv_stream, report_row_count, xlsx_stream

from . import errors
from .auth import user_of
from .errors import ApiError, responses
from .schemas import Input

router = Router(tags=["grading"])


class GradeOut(Schema):
    class_name: str
    assignment: str
    due_date: datetime.date
    max_score: str
    score: str
    feedback: str
    graded_at: datetime.datetime


@router.get("/grades/", response=responses(list[GradeOut]), operation_id="my_grades")
@paginate(PageNumberPagination, page_size=50)
def my_grades(request: HttpRequest) -> list[dict[str, Any]]:
    """The signed-in student's own grades."""
    grades = (
        selectors.grade_list_visible_to(viewer=user_of(request))
        .filter(student=user_of(request))
        .select_related("assignment", "assignment__school_class")
        .order_by("assignment__school_class__name", "assignment__due_date", "pk")
    )
    return [
        {
            "class_name": g.assignment.school_class.name,
            "assignment": g.assignment.title,
            "due_date": g.assignment.due_date,
            "max_score": _score(g.assignment.max_score),
            "score": _score(g.score),
            "feedback": g.feedback,
            "graded_at": g.graded_at,
        }
        for g in grades[:5000]
    ]


def _score(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- teachers ------------------------------------------------------------------------------------------------
class ClassOut(Schema):
    id: int
    name: str
    school: str


@router.get("/teaching/classes/", response=responses(list[ClassOut]), operation_id="classes_list")
@paginate(PageNumberPagination, page_size=50)
def classes_list(request: HttpRequest) -> list[dict[str, Any]]:
    classes = selectors.class_list_taught_by(viewer=user_of(request)).select_related("school").order_by("name", "pk")
    return [{"id": c.pk, "name": c.name, "school": c.school.name} for c in classes[:1000]]


def _class(request: HttpRequest, class_id: int) -> SchoolClass:
    found = selectors.class_list_taught_by(viewer=user_of(request)).select_related("school").filter(pk=class_id).first()
    if found is None:
        raise errors.not_found()
    return found


class StudentOut(Schema):
    student_id: int
    number: int
    first_name: str
    last_name: str


@router.get("/teaching/classes/{class_id}/roster/", response=responses(list[StudentOut]), operation_id="class_roster")
@paginate(PageNumberPagination, page_size=50)
def class_roster(request: HttpRequest, class_id: int) -> list[dict[str, Any]]:
    school_class = _class(request, class_id)
    return [
        {
            "student_id": e.student_id,
            "number": e.number,
            "first_name": e.student.first_name,
            "last_name": e.student.last_name,
        }
        for e in selectors.enrollment_list(school_class=school_class)
    ]


class AssignmentOut(Schema):
    id: int
    title: str
    due_date: datetime.date
    max_score: str


def _assignments(school_class: SchoolClass) -> list[Assignment]:
    return list(Assignment.objects.filter(school_class=school_class).order_by("due_date", "pk"))


@router.get(
    "/teaching/classes/{class_id}/assignments/",
    response=responses(list[AssignmentOut]),
    operation_id="class_assignments",
)
@paginate(PageNumberPagination, page_size=50)
def class_assignments(request: HttpRequest, class_id: int) -> list[dict[str, Any]]:
    school_class = _class(request, class_id)
    return [
        {"id": a.pk, "title": a.title, "due_date": a.due_date, "max_score": _score(a.max_score)}
        for a in _assignments(school_class)
    ]


class CellOut(Schema):
    student_id: int
    assignment_id: int
    score: str
    feedback: str


class GradebookOut(Schema):
    page: int
    pages: int
    students: list[StudentOut]
    assignments: list[AssignmentOut]
    cells: list[CellOut]


class GradebookQuery(Schema):
    page: int = Field(1, ge=1, le=100000)


GRADEBOOK_PAGE = 50


@router.get("/teaching/classes/{class_id}/gradebook/", response=responses(GradebookOut), operation_id="gradebook_read")
def gradebook_read(request: HttpRequest, class_id: int, query: Query[GradebookQuery]) -> dict[str, Any]:
    """The gradebook: students in pages of 50 (name order), every assignment, the grades of those cells."""
    school_class = _class(request, class_id)
    students = selectors.gradebook_students(school_class=school_class)
    pages = max(1, -(-len(students) // GRADEBOOK_PAGE))
    shown = students[(query.page - 1) * GRADEBOOK_PAGE : query.page * GRADEBOOK_PAGE]
    assignments = _assignments(school_class)
    numbers = dict(selectors.enrollment_list(school_class=school_class).values_list("student_id", "number"))
    grades = selectors.gradebook_grades(
        viewer=user_of(request),
        school_class=school_class,
        assignment_ids=[a.pk for a in assignments],
        student_ids=[s.student_id for s in shown],
    )
    return {
        "page": query.page,
        "pages": pages,
        "students": [
            {
                "student_id": s.student_id,
                "number": numbers.get(s.student_id, 0),
                "first_name": s.first_name,
                "last_name": s.last_name,
            }
            for s in shown
        ],
        "assignments": [
            {"id": a.pk, "title": a.title, "due_date": a.due_date, "max_score": _score(a.max_score)}
            for a in assignments
        ],
        "cells": [
            {"student_id": sid, "assignment_id": aid, "score": score, "feedback": feedback}
            for (sid, aid), (score, feedback) in sorted(grades.items())
        ],
    }


class CellIn(Input):
    student_id: int = Field(ge=1, le=2**63 - 1)
    assignment_id: int = Field(ge=1, le=2**63 - 1)
    score: str | None = Field(None, max_length=20, description="A number with at most 2 decimals; null clears")
    feedback: str = Field("", max_length=2000)


class GradebookIn(Input):
    cells: list[CellIn] = Field(max_length=5000)


class SavedOut(Schema):
    created: int
    updated: int
    cleared: int


@router.put("/teaching/classes/{class_id}/gradebook/", response=responses(SavedOut), operation_id="gradebook_write")
def gradebook_write(request: HttpRequest, class_id: int, payload: GradebookIn) -> dict[str, int]:
    """Save any cells of the grid in one request, with the page's validation: any bad cell saves nothing."""
    school_class = _class(request, class_id)
    students = selectors.gradebook_students(school_class=school_class)
    assignments = _assignments(school_class)
    enrolled = {s.student_id for s in students}
    known = {a.pk for a in assignments}
    data: dict[str, str] = {}
    for index, cell in enumerate(payload.cells):
        if cell.student_id not in enrolled or cell.assignment_id not in known:
            raise ApiError.one(400, "not_in_class", _("The grade does not belong to this class."), f"cells.{index}")
        data[f"score-{cell.student_id}-{cell.assignment_id}"] = cell.score or ""
        data[f"feedback-{cell.student_id}-{cell.assignment_id}"] = cell.feedback
    book = Gradebook(enrollments=students, assignments=assignments, grades={}, data=data)
    entries = book.entries()
    if entries is None:
        raise ApiError(400, [{"code": "invalid_cell", "message": str(m), "param": "cells"} for m in book.errors])
    try:
        result = services.grades_save(teacher=user_of(request), school_class=school_class, entries=entries)
    except ValidationError as error:
        raise errors.from_validation_error(error, param="cells") from error
    return {"created": result.created, "updated": result.updated, "cleared": result.cleared}


# --- grade reports ----------------------------------------------------------------------------------------------
class NoticeIn(Input):
    acknowledged: Literal[True]


class NoticeOut(Schema):
    acknowledged: bool
    version: int


@router.get("/teaching/report-notice/", response=responses(NoticeOut), operation_id="report_notice_read")
def report_notice_read(request: HttpRequest) -> dict[str, Any]:
    _require_teacher(request)
    return {
        "acknowledged": services.report_notice_acknowledged(teacher=user_of(request)),
        "version": services.REPORT_NOTICE_VERSION,
    }


@router.post("/teaching/report-notice/", response=responses(NoticeOut), operation_id="report_notice_acknowledge")
def report_notice_acknowledge(request: HttpRequest, payload: NoticeIn) -> dict[str, Any]:
    """Acknowledge the grade reports' privacy notice (COPPA, FERPA, GDPR), once per notice version."""
    _require_teacher(request)
    services.report_notice_acknowledge(teacher=user_of(request))
    return {"acknowledged": True, "version": services.REPORT_NOTICE_VERSION}


def _require_teacher(request: HttpRequest) -> None:
    if not selectors.school_list_teaching(viewer=user_of(request)).exists():
        raise ApiError.one(403, "not_teacher", _("Only teachers download grade reports."))


class ReportQuery(Schema):
    format: Literal["csv", "xlsx"] = "csv"
    pseudonymous: bool = False


@router.get(
    "/teaching/assignments/{assignment_id}/report/",
    response=errors.error_responses(),
    operation_id="assignment_report",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The report",
                "content": {
                    "text/csv": {},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                },
            }
        }
    },
)
def assignment_report(request: HttpRequest, assignment_id: int, query: Query[ReportQuery]) -> StreamingHttpResponse:
    """The grade report of one assignment (CSV or XLSX), once the notice is acknowledged; each download logged."""
    viewer = user_of(request)
    assignment = (
        selectors.assignment_list_taught_by(viewer=viewer)
        .select_related("school_class")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise errors.not_found()
    if not services.report_notice_acknowledged(teacher=viewer):
        raise ApiError.one(
            403,
            "notice_required",
            _("Read and acknowledge the privacy notice before downloading a grade report."),
        )
    fmt = GradeExport.Format.CSV if query.format == "csv" else GradeExport.Format.XLSX
    row_count = report_row_count(viewer=viewer, assignment=assignment)
    if fmt == GradeExport.Format.XLSX and not report_is_inline(row_count):
        # writing a large sheet is seconds of CPU: the website prepares it as a background job (grading/downloads.py)
        limit = settings.REPORT_INLINE_MAX_ROWS
        raise ApiError.one(
            400,
            "report_too_large",
            ngettext(
                "An XLSX report of more than %(count)s row is prepared on the website: download this one as CSV, "
                "or prepare the XLSX on the report's page.",
                "An XLSX report of more than %(count)s rows is prepared on the website: download this one as CSV, "
                "or prepare the XLSX on the report's page.",
                limit,
            )
            % {"count": limit},
            param="format",
        )
    services.grade_export_log(
        teacher=viewer, assignment=assignment, format=fmt, pseudonymous=query.pseudonymous, row_count=row_count
    )
    if fmt == GradeExport.Format.CSV:
        response = StreamingHttpResponse(
            csv_stream(viewer=viewer, assignment=assignment, pseudonymous=query.pseudonymous),
            content_type="text/csv; charset=utf-8",
        )
    else:
        response = StreamingHttpResponse(
            xlsx_stream(viewer=viewer, assignment=assignment, pseudonymous=query.pseudonymous),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    stem = slugify(f"{assignment.school_class.name} {assignment.title}") or "grades"
    suffix = "-pseudonymous" if query.pseudonymous else ""
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}{suffix}.{fmt}")
    response["Cache-Control"] = "no-store"
    return response
