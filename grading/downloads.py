"""Files of the grading app prepared off the request (mindomo.downloads), each followed on its progress page:

- login cards for a whole class: one Argon2 hash per student is seconds of CPU for a class, so a Celery job issues
  the passwords and draws the PDF;
- a large grade report as XLSX (more than ``REPORT_INLINE_MAX_ROWS`` rows): the same query (through
  ``grade_list_visible_to`` with the teacher as viewer), header and neutralisation as the streamed report,
  written by the job in the teacher's language."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from mindomo.downloads import registry
from mindomo.downloads.models import PreparedFile
from mindomo.downloads.services import prepared_file_request
from schools import services as school_services
from schools.models import School

from . import reports, selectors, services
from .cards import login_cards_pdf
from .models import Assignment, GradeExport

LOGIN_CARDS = "grading.login_cards"
REPORT_XLSX = "grading.report_xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Students whose passwords are issued (and committed) together: the progress moves after each group.
CARDS_PER_PART = 10


def parts_for(student_count: int) -> int:
    return -(-student_count // CARDS_PER_PART) + 1  # the groups, then the PDF


def _build(prepared: PreparedFile, handle: IO[bytes], progress: registry.Progress) -> None:
    school = School.objects.filter(pk=prepared.params["school_id"]).first()
    if school is None or prepared.user is None:
        raise ValidationError(gettext("This school no longer exists."))
    ordered = list(
        User.objects.filter(pk__in=prepared.params["student_ids"])
        .order_by("last_name", "first_name", "username")
        .values_list("pk", flat=True)
    )
    groups = [ordered[i : i + CARDS_PER_PART] for i in range(0, len(ordered), CARDS_PER_PART)]
    total = len(groups) + 1
    cards = []
    for done, group in enumerate(groups, start=1):
        cards += school_services.login_cards_issue(actor=prepared.user, school=school, student_ids=group)
        progress(done, total)
    sign_in_url = settings.SITE_URL.rstrip("/") + reverse("grading:student_sign_in")
    handle.write(login_cards_pdf(cards=cards, sign_in_url=sign_in_url))
    progress(total, total)


def _allowed(request: HttpRequest, prepared: PreparedFile) -> bool:
    """Only the teacher or administrator who asked, while they still manage the school's roster."""
    user: Any = request.user
    return (
        user.is_authenticated
        and prepared.user_id == user.pk
        and selectors.school_list_managed_by(viewer=user).filter(pk=prepared.params.get("school_id")).exists()
    )


def _back(prepared: PreparedFile) -> str:
    return reverse("grading:school_roster", args=[prepared.params["school_id"]])


def report_is_inline(row_count: int) -> bool:
    """Whether a report of ``row_count`` rows is streamed by the request (else a job writes it)."""
    return row_count <= settings.REPORT_INLINE_MAX_ROWS


def report_xlsx_request(
    *, teacher: User, assignment: Assignment, pseudonymous: bool, download_name: str
) -> PreparedFile:
    """A large XLSX report asked for: the job counts its rows (the progress's total), then writes it."""
    return prepared_file_request(
        kind=REPORT_XLSX,
        user=teacher,
        params={"assignment_id": assignment.pk, "pseudonymous": pseudonymous},
        download_name=download_name,
        content_type=XLSX,
    )


def _report_assignment(prepared: PreparedFile) -> Assignment | None:
    """The report's assignment while the teacher who asked still teaches its class."""
    if prepared.user is None:
        return None
    return (
        selectors.assignment_list_taught_by(viewer=prepared.user)
        .select_related("school_class")
        .filter(pk=prepared.params.get("assignment_id"))
        .first()
    )


def _report_build(prepared: PreparedFile, handle: IO[bytes], progress: registry.Progress) -> None:
    assignment = _report_assignment(prepared)
    teacher = prepared.user
    if assignment is None or teacher is None:
        raise ValidationError(gettext("You no longer teach this class."))
    total = reports.report_row_count(viewer=teacher, assignment=assignment)
    progress(0, total)
    step = max(total // 50, 1)  # about fifty progress writes, whatever the size
    last = [0]

    def rows_done(rows: int) -> None:
        if rows - last[0] >= step:
            last[0] = rows
            progress(rows, total)

    pseudonymous = bool(prepared.params.get("pseudonymous"))
    rows = reports.xlsx_write(
        handle, viewer=teacher, assignment=assignment, pseudonymous=pseudonymous, rows_done=rows_done
    )
    # the teacher's download history: who, when, which assignment, how many rows (as for a streamed report)
    xlsx = GradeExport.Format.XLSX
    services.grade_export_log(
        teacher=teacher, assignment=assignment, format=xlsx, pseudonymous=pseudonymous, row_count=rows
    )


def _report_allowed(request: HttpRequest, prepared: PreparedFile) -> bool:
    """Only the teacher who asked, while they still teach the assignment's class."""
    user: Any = request.user
    return (
        user.is_authenticated
        and prepared.user_id == user.pk
        and selectors.assignment_list_taught_by(viewer=user).filter(pk=prepared.params.get("assignment_id")).exists()
    )


def _report_back(prepared: PreparedFile) -> str:
    return reverse("grading:assignment_report", args=[prepared.params["assignment_id"]])


def register() -> None:
    registry.register(
        registry.Kind(name=LOGIN_CARDS, build=_build, allowed=_allowed, back_url=_back, title=_("Login cards"))
    )
    registry.register(
        registry.Kind(
            name=REPORT_XLSX,
            build=_report_build,
            allowed=_report_allowed,
            back_url=_report_back,
            title=_("Grade report (XLSX)"),
        )
    )
