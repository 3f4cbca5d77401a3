"""Thin views. Protected objects come from selectors that take the viewer, through get_object_or_404:
a page or action the viewer may not use answers 404, exactly like one that does not exist."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.safestring import mark_safe
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedRequest
from accounts.models import User
from consent.selectors import school_guardians_by_child
from mindomo.downloads.services import prepared_file_request
from mindomo.redaction import referrer_origin_only
from schools import selectors as school_selectors
from schools import services as school_services
from schools.models import SchoolMembership, SchoolStudentAccount

from . import downloads, reports, selectors, services
from .forms import (
    AssignmentForm,
    ClassForm,
    EnrollForm,
    Gradebook,
    InviteTeacherForm,
    JoinClassForm,
    LoginCardsForm,
    NoticeForm,
    StudentCsvForm,
    StudentForm,
    StudentParentsForm,
    StudentSignInForm,
)
from .models import Assignment, ClassJoinRequest, Enrollment, GradeExport


def _errors(exc: ValidationError) -> list[str]:
    return [str(m) for m in exc.messages]


@login_required
def index(request: AuthenticatedRequest) -> HttpResponse:
    viewer = request.user
    context = {
        "schools": list(selectors.school_list_managed_by(viewer=viewer).order_by("name")),
        "classes": list(selectors.class_list_taught_by(viewer=viewer).select_related("school").order_by("name")),
        "is_student": SchoolMembership.objects.filter(user=viewer, role=SchoolMembership.Role.STUDENT).exists(),
        "is_teacher": selectors.school_list_teaching(viewer=viewer).exists(),
    }
    return render(request, "grading/index.html", context)


# --- schools: roster, students, login cards, teacher invitations ------------------------------------------
def _roster_context(request: AuthenticatedRequest, school: Any, **extra: Any) -> dict[str, Any]:
    members = list(
        SchoolMembership.objects.filter(school=school)
        .select_related("user", "user__school_student_account")
        .order_by("role", "user__last_name", "user__first_name", "user__username")
    )
    roles = {m.role for m in members if m.user_id == request.user.pk}
    is_admin = SchoolMembership.Role.ADMIN in roles
    students = [m for m in members if m.role == SchoolMembership.Role.STUDENT]
    parents = school_guardians_by_child(child_ids=[m.user_id for m in students]) if is_admin else {}
    for m in students:
        m.parent_emails = parents.get(m.user_id, [])  # type: ignore[attr-defined]
    return {
        "school": school,
        "admins": [m for m in members if m.role == SchoolMembership.Role.ADMIN],
        "teachers": [m for m in members if m.role == SchoolMembership.Role.TEACHER],
        "students": students,
        "is_admin": is_admin,
        "join_requests": (
            list(school_selectors.teacher_join_requests_pending(viewer=request.user, school=school)) if is_admin else []
        ),
        "student_form": extra.pop("student_form", None) or StudentForm(may_record_parents=is_admin),
        "csv_form": extra.pop("csv_form", None) or StudentCsvForm(),
        "invite_form": extra.pop("invite_form", None) or InviteTeacherForm(),
        **extra,
    }


@login_required
def school_roster(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.school_list_managed_by(viewer=request.user), pk=school_id)
    return render(request, "grading/school_roster.html", _roster_context(request, school))


@login_required
@require_POST
def student_add(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.school_list_managed_by(viewer=request.user), pk=school_id)
    is_admin = selectors.school_list_administered_by(viewer=request.user).filter(pk=school.pk).exists()
    form = StudentForm(request.POST, may_record_parents=is_admin)
    if form.is_valid():
        try:
            users = school_services.students_register(actor=request.user, school=school, rows=[form.row()])
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message.replace(_("Line %(line)d: ") % {"line": 1}, ""))
        else:
            return render(request, "grading/students_added.html", {"school": school, "students": users})
    return render(
        request, "grading/school_roster.html", _roster_context(request, school, student_form=form), status=400
    )


@login_required
@require_http_methods(["GET", "POST"])
def student_import(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.school_list_managed_by(viewer=request.user), pk=school_id)
    errors: list[str] = []
    form = StudentCsvForm(
        request.POST if request.method == "POST" else None, request.FILES if request.method == "POST" else None
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > school_services.CSV_MAX_BYTES:  # refused before it is read into memory
                raise school_services.CsvImportError(
                    _("The file is too large (at most %(kb)d KB).") % {"kb": school_services.CSV_MAX_BYTES // 1024}
                )
            users = school_services.students_import_csv(actor=request.user, school=school, data=upload.read())
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            return render(request, "grading/students_added.html", {"school": school, "students": users})
    status = 400 if request.method == "POST" else 200
    return render(
        request, "grading/student_import.html", {"school": school, "form": form, "errors": errors}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def student_parents(request: AuthenticatedRequest, school_id: int, user_id: int) -> HttpResponse:
    """A school administrator records, changes or removes a student's parents' addresses."""
    school = get_object_or_404(selectors.school_list_administered_by(viewer=request.user), pk=school_id)
    membership = get_object_or_404(
        SchoolMembership.objects.select_related("user"),
        school=school,
        user_id=user_id,
        role=SchoolMembership.Role.STUDENT,
    )
    current = school_guardians_by_child(child_ids=[user_id]).get(user_id, [])
    initial = {"parent_email": current[0] if current else "", "parent_email_2": current[1] if len(current) > 1 else ""}
    form = StudentParentsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            school_services.student_parents_set(
                admin=request.user, school=school, student_id=user_id, emails=form.emails()
            )
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(
                request,
                _("Parents saved. Each new address gets an email explaining how to open the parent portal.")
                if form.emails()
                else _("No parent is on record any more: their access to the parent portal ended."),
            )
            return redirect("grading:school_roster", school_id=school.pk)
    status = 400 if request.method == "POST" else 200
    context = {
        "school": school,
        "student": membership.user,
        "form": form,
        "registered": hasattr(membership.user, "school_student_account"),
    }
    return render(request, "grading/student_parents.html", context, status=status)


@login_required
@require_POST
def login_cards(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.school_list_managed_by(viewer=request.user), pk=school_id)
    candidates = list(SchoolStudentAccount.objects.filter(school=school).values_list("user_id", flat=True))
    form = LoginCardsForm(request.POST, student_ids=candidates)
    if not form.is_valid():
        messages.error(request, _("Choose the students whose login cards you want to print."))
        return redirect("grading:school_roster", school_id=school.pk)
    # One Argon2 hash per student: a Celery job issues the passwords and draws the PDF (grading/downloads.py);
    # the teacher follows its progress and downloads the cards from the page it leads to.
    students = form.cleaned_data["students"]
    filename = "login-cards-{}-{}.pdf".format(slugify(school.name) or "school", timezone.now().strftime("%Y%m%d-%H%M"))
    prepared = prepared_file_request(
        kind=downloads.LOGIN_CARDS,
        user=request.user,
        params={"school_id": school.pk, "student_ids": sorted(students)},
        download_name=filename,
        content_type="application/pdf",
        parts_total=downloads.parts_for(len(students)),
    )
    return redirect("downloads:progress", public_id=prepared.public_id)


@login_required
@require_POST
def teacher_invite(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.school_list_administered_by(viewer=request.user), pk=school_id)
    form = InviteTeacherForm(request.POST)
    if form.is_valid():
        try:
            school_services.teacher_invite(admin=request.user, school=school, email=form.cleaned_data["email"])
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error("email", message)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("grading:school_roster", school_id=school.pk)
    return render(request, "grading/school_roster.html", _roster_context(request, school, invite_form=form), status=400)


@login_required
@require_POST
def teacher_remove(request: AuthenticatedRequest, school_id: int, user_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.school_list_administered_by(viewer=request.user), pk=school_id)
    try:
        school_services.teacher_remove(admin=request.user, school=school, teacher_id=user_id)
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        messages.success(request, _("The teacher was removed from the school."))
    return redirect("grading:school_roster", school_id=school.pk)


@login_required
@require_POST
def student_remove(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.school_list_administered_by(viewer=request.user), pk=school_id)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Please tick the box to confirm the removal."))
        return redirect("grading:school_roster", school_id=school.pk)
    try:
        student_id = int(request.POST.get("student", ""))
        outcome = school_services.student_remove(admin=request.user, school=school, student_id=student_id)
    except ValueError:
        messages.error(request, _("Please choose a student."))
    except ValidationError as exc:
        messages.error(request, " ".join(_errors(exc)))
    else:
        if outcome == "erased":
            messages.success(request, _("The student's school account and all its data were deleted."))
        else:
            messages.success(request, _("The student left the school; their own account stays theirs."))
    return redirect("grading:school_roster", school_id=school.pk)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request: AuthenticatedRequest, token: str) -> HttpResponse:
    try:
        invitation = school_services.invitation_from_token(token=token)
    except ValidationError as exc:
        return render(request, "grading/invitation.html", {"errors": _errors(exc)}, status=400)
    errors: list[str] = []
    if request.method == "POST":
        try:
            school_services.teacher_invitation_accept(token=token, user=request.user)
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("You are now a teacher of %(school)s.") % {"school": invitation.school.name})
            return redirect("grading:index")
    return render(
        request, "grading/invitation.html", {"invitation": invitation, "errors": errors}, status=400 if errors else 200
    )


# --- classes, enrollment, assignments, gradebook -------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def class_list(request: AuthenticatedRequest) -> HttpResponse:
    viewer = request.user
    teaching = selectors.school_list_teaching(viewer=viewer).order_by("name")
    if not teaching.exists():
        raise Http404
    form = ClassForm(request.POST if request.method == "POST" else None, schools=teaching)
    if request.method == "POST" and form.is_valid():
        try:
            school_class = services.class_create(
                teacher=viewer, school=form.cleaned_data["school"], name=form.cleaned_data["name"]
            )
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error("name", message)
        else:
            messages.success(request, _("Class created. Now enroll its students."))
            return redirect("grading:class_students", class_id=school_class.pk)
    classes = selectors.class_list_taught_by(viewer=viewer).select_related("school").order_by("name")
    status = 400 if request.method == "POST" else 200
    return render(request, "grading/class_list.html", {"classes": classes, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def class_students(request: AuthenticatedRequest, class_id: int) -> HttpResponse:
    school_class = get_object_or_404(
        selectors.class_list_taught_by(viewer=request.user).select_related("school"), pk=class_id
    )
    enrolled = Enrollment.objects.filter(school_class=school_class, student_id=OuterRef("pk"))
    candidates = (
        User.objects.filter(
            school_memberships__school=school_class.school, school_memberships__role=SchoolMembership.Role.STUDENT
        )
        .exclude(Exists(enrolled))
        .order_by("last_name", "first_name", "username")
    )
    form = EnrollForm(request.POST if request.method == "POST" else None, candidates=candidates)
    if request.method == "POST" and form.is_valid():
        try:
            count = services.class_enroll_students(
                teacher=request.user,
                school_class=school_class,
                student_ids=[u.pk for u in form.cleaned_data["students"]],
            )
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(
                request,
                ngettext("%(count)d student enrolled.", "%(count)d students enrolled.", count) % {"count": count},
            )
            return redirect("grading:gradebook", class_id=school_class.pk)
    context = {
        "school_class": school_class,
        "form": form,
        "enrollments": selectors.enrollment_list(school_class=school_class),
        "join_code": services.join_code_display(services.class_join_code(school_class=school_class)),
        "waiting": selectors.class_join_requests_waiting(school_class=school_class),
    }
    return render(request, "grading/class_students.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def class_join_code_renew(request: AuthenticatedRequest, class_id: int) -> HttpResponse:
    school_class = get_object_or_404(selectors.class_list_taught_by(viewer=request.user), pk=class_id)
    try:
        code = services.class_join_code_renew(teacher=request.user, school_class=school_class)
    except ValidationError as exc:
        for message in _errors(exc):
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("The class has a new code: %(code)s. The old one no longer works.")
            % {"code": services.join_code_display(code)},
        )
    return redirect("grading:class_students", class_id=school_class.pk)


def _gradebook(request: AuthenticatedRequest, class_id: int, data: Any = None) -> tuple[Any, Gradebook]:
    """The class the viewer teaches (404 otherwise) and its gradebook: its students and assignments, read with
    the class in one round trip (``selectors.gradebook_open``); the grades are read for the columns shown
    (``_gradebook_page``)."""
    opened = selectors.gradebook_open(viewer=request.user, class_id=class_id)
    if opened is None:
        raise Http404
    book = Gradebook(enrollments=opened.students, assignments=opened.assignments, grades={}, data=data)
    return opened.school_class, book


# At most this many students on a page: a class of up to 35 is one page; a larger one is cut into pages of even
# size (36 students: two of 18, 200: six of 33-34), never a last page of one or two students.
GRADEBOOK_STUDENTS_PER_PAGE = 35


def _int_param(request: AuthenticatedRequest, name: str, default: int) -> int:
    try:
        return int(request.GET.get(name, request.POST.get(name, default)))
    except (TypeError, ValueError):
        return default


def _gradebook_window(request: AuthenticatedRequest, book: Gradebook) -> dict[str, Any]:
    """The students shown (as few pages as GRADEBOOK_STUDENTS_PER_PAGE allows, of even size, in name order) and
    as many assignment columns as one POST can carry (two fields per cell; the latest by default)."""
    pages = max(1, -(-len(book.enrollments) // GRADEBOOK_STUDENTS_PER_PAGE))
    per_page_students = max(1, -(-len(book.enrollments) // pages))
    page = min(max(1, _int_param(request, "page", 1)), pages)
    first = (page - 1) * per_page_students
    shown = book.enrollments[first : first + per_page_students]
    per_page = max(1, (settings.DATA_UPLOAD_MAX_NUMBER_FIELDS - 20) // (2 * max(1, len(shown))))
    total = len(book.assignments)
    latest = max(0, total - per_page)
    start = min(max(0, _int_param(request, "from", latest)), latest)
    end = start + per_page
    return {
        "students": shown,
        "page": page,
        "pages": pages,
        "first_student": first + 1,
        "last_student": first + len(shown),
        "previous_page": page - 1 if page > 1 else None,
        "next_page": page + 1 if page < pages else None,
        "window_from": start,
        "window_to": end,
        "columns": book.assignments[start:end],
        "earlier_from": max(0, start - per_page) if start > 0 else None,
        "later_from": end if end < total else None,
    }


def _gradebook_page(
    request: AuthenticatedRequest, school_class: Any, book: Gradebook, form: AssignmentForm, status: int
) -> HttpResponse:
    window = _gradebook_window(request, book)
    book.grades = selectors.gradebook_grades(
        viewer=request.user,
        school_class=school_class,
        assignment_ids=[a.pk for a in window["columns"]],
        student_ids=[e.student_id for e in window["students"]],
    )
    context = {
        "school_class": school_class,
        "book": book,
        "assignment_form": form,
        "header": mark_safe(_HEADER_MARK),  # noqa: S308 -- our own constant
        "grid": mark_safe(_GRID_MARK),  # noqa: S308 -- our own constant
        **window,
    }
    page = render_to_string("grading/gradebook.html", context, request)
    before, header_found, rest = page.partition(_HEADER_MARK)
    middle, grid_found, after = rest.partition(_GRID_MARK)
    if not (header_found and grid_found):  # no grid on this page (no student or no assignment yet)
        return HttpResponse(page, status=status)
    header = book.header_html(window["window_from"], window["window_to"])
    grid = book.grid_parts(window["students"], window["window_from"], window["window_to"])
    parts = (before, header, middle, *grid, after)  # encoded one by one: see Gradebook.grid_parts
    return HttpResponse(b"".join(part.encode() for part in parts), status=status)


# The grid (hundreds of KB) is put into the rendered page once, where these marks stand, instead of being copied
# by every level of the template (each block and tag joins its output into a new string). Nothing a person
# typed can hold them: the template escapes "<" in every value.
_HEADER_MARK = "<!--gradebook:header-->"
_GRID_MARK = "<!--gradebook:grid-->"


@login_required
@require_http_methods(["GET", "POST"])
def gradebook(request: AuthenticatedRequest, class_id: int) -> HttpResponse:
    if request.method == "GET":
        school_class, book = _gradebook(request, class_id)
        return _gradebook_page(request, school_class, book, AssignmentForm(), 200)
    school_class, book = _gradebook(request, class_id, data=request.POST)
    column: int | None = None
    if request.POST.get("save_column"):
        try:
            column = int(request.POST["save_column"])
        except ValueError:
            column = -1
    entries = book.entries(column=column)
    if entries is not None:
        try:
            result = services.grades_save(teacher=request.user, school_class=school_class, entries=entries)
        except ValidationError as exc:
            book.errors.extend(_errors(exc))
        else:
            messages.success(
                request,
                _("Grades saved: %(created)d new, %(updated)d changed, %(cleared)d cleared.")
                % {"created": result.created, "updated": result.updated, "cleared": result.cleared},
            )
            url = reverse("grading:gradebook", args=[school_class.pk])
            window = _gradebook_window(request, book)
            return redirect(f"{url}?{urlencode({'page': window['page'], 'from': window['window_from']})}")
    return _gradebook_page(request, school_class, book, AssignmentForm(), 400)


@login_required
@require_POST
def assignment_create(request: AuthenticatedRequest, class_id: int) -> HttpResponse:
    school_class = get_object_or_404(
        selectors.class_list_taught_by(viewer=request.user).select_related("school"), pk=class_id
    )
    form = AssignmentForm(request.POST)
    if form.is_valid():
        try:
            services.assignment_create(teacher=request.user, school_class=school_class, **form.cleaned_data)
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error(None, message)
        else:
            messages.success(request, _("Assignment added to the gradebook."))
            return redirect("grading:gradebook", class_id=school_class.pk)
    school_class, book = _gradebook(request, class_id)
    return _gradebook_page(request, school_class, book, form, 400)


# --- grade reports ---------------------------------------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def assignment_report(request: AuthenticatedRequest, assignment_id: int) -> HttpResponse:
    assignment = get_object_or_404(
        selectors.assignment_list_taught_by(viewer=request.user).select_related("school_class"), pk=assignment_id
    )
    form = NoticeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.report_notice_acknowledge(teacher=request.user)
        return redirect("grading:assignment_report", assignment_id=assignment.pk)
    row_count = reports.report_row_count(viewer=request.user, assignment=assignment)
    context = {
        "assignment": assignment,
        "form": form,
        "acknowledged": services.report_notice_acknowledged(teacher=request.user),
        "row_count": row_count,
        "xlsx_inline": downloads.report_is_inline(row_count),
    }
    return render(request, "grading/assignment_report.html", context, status=400 if form.errors else 200)


def _report_name(assignment: Assignment, fmt: str, pseudonymous: bool) -> str:
    stem = slugify(f"{assignment.school_class.name} {assignment.title}") or "grades"
    return f"{stem}{'-pseudonymous' if pseudonymous else ''}.{fmt}"


@login_required
@require_GET
def assignment_download(
    request: AuthenticatedRequest, assignment_id: int, fmt: str
) -> HttpResponse | StreamingHttpResponse:
    """The report streamed by the request: CSV always (PostgreSQL's COPY does the work), XLSX up to
    REPORT_INLINE_MAX_ROWS rows. A larger XLSX is prepared by a job (``assignment_report_prepare``)."""
    assignment = get_object_or_404(
        selectors.assignment_list_taught_by(viewer=request.user).select_related("school_class"), pk=assignment_id
    )
    if fmt not in GradeExport.Format.values:
        raise Http404
    if not services.report_notice_acknowledged(teacher=request.user):
        messages.warning(request, _("Read and acknowledge the privacy notice before downloading a grade report."))
        return redirect("grading:assignment_report", assignment_id=assignment.pk)
    pseudonymous = request.GET.get("pseudonymous") == "1"
    row_count = reports.report_row_count(viewer=request.user, assignment=assignment)
    if fmt == GradeExport.Format.XLSX and not downloads.report_is_inline(row_count):
        messages.info(request, _("This report is large: prepare the XLSX file below and download it when it is ready."))
        return redirect("grading:assignment_report", assignment_id=assignment.pk)
    services.grade_export_log(
        teacher=request.user, assignment=assignment, format=fmt, pseudonymous=pseudonymous, row_count=row_count
    )
    viewer = request.user
    response: StreamingHttpResponse
    if fmt == GradeExport.Format.CSV:
        rows = reports.csv_stream(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous)
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(
            reports.xlsx_stream(viewer=viewer, assignment=assignment, pseudonymous=pseudonymous),
            content_type=downloads.XLSX,
        )
    response["Content-Disposition"] = content_disposition_header(True, _report_name(assignment, fmt, pseudonymous))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def assignment_report_prepare(request: AuthenticatedRequest, assignment_id: int) -> HttpResponse:
    """A report too large to stream as XLSX: a Celery job writes it (grading/downloads.py); the teacher follows
    its progress and downloads it from the page it leads to. Asking twice while it is prepared gives one job; the
    job records the download in the teacher's history when it writes the file."""
    assignment = get_object_or_404(
        selectors.assignment_list_taught_by(viewer=request.user).select_related("school_class"), pk=assignment_id
    )
    if not services.report_notice_acknowledged(teacher=request.user):
        messages.warning(request, _("Read and acknowledge the privacy notice before downloading a grade report."))
        return redirect("grading:assignment_report", assignment_id=assignment.pk)
    pseudonymous = request.POST.get("pseudonymous") == "1"
    # no row count here (a count of a large report is a scan): the job counts, then writes
    prepared = downloads.report_xlsx_request(
        teacher=request.user,
        assignment=assignment,
        pseudonymous=pseudonymous,
        download_name=_report_name(assignment, GradeExport.Format.XLSX, pseudonymous),
    )
    return redirect("downloads:progress", public_id=prepared.public_id)


@login_required
def export_history(request: AuthenticatedRequest) -> HttpResponse:
    exports = selectors.export_list_by(viewer=request.user)[:200]
    return render(request, "grading/export_history.html", {"exports": exports})


# --- students ---------------------------------------------------------------------------------------------------
@login_required
def my_grades(request: AuthenticatedRequest) -> HttpResponse:
    grades = (
        selectors.grade_list_visible_to(viewer=request.user)
        .filter(student=request.user)
        .select_related("assignment", "assignment__school_class")
        .order_by("assignment__school_class__name", "assignment__due_date", "pk")
    )
    own_account = not school_selectors.is_school_registered(request.user)
    return render(request, "grading/my_grades.html", {"grades": grades, "own_account": own_account})


@require_http_methods(["GET", "POST"])
def student_sign_in(request: HttpRequest) -> HttpResponse:
    """Sign-in with a login card: school-registered students have a username and no email address."""
    from allauth.core import ratelimit

    form = StudentSignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST":
        username = str(request.POST.get("username", "")).lower()[:150]
        if not ratelimit.consume(request, action="login_failed", key=username, dry_run=True):
            form.is_bound = False
            return render(
                request,
                "grading/student_sign_in.html",
                {"form": form, "rate_limited": True},
                status=429,
            )
        if form.is_valid() and school_selectors.is_school_registered(form.get_user()):
            auth_login(request, form.get_user(), backend="django.contrib.auth.backends.ModelBackend")
            return redirect("grading:my_grades")
        ratelimit.consume(request, action="login_failed", key=username)
        if not form.errors:
            form.add_error(None, _("The username or the password is not right. Check your login card."))
        return render(request, "grading/student_sign_in.html", {"form": form}, status=400)
    return render(request, "grading/student_sign_in.html", {"form": form})


# --- Joining a class by its code -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def class_join(request: AuthenticatedRequest) -> HttpResponse:
    """A student with their own account types a class code; a child's request waits for a parent's answer."""
    if school_selectors.is_school_registered(request.user):
        messages.info(request, _("Your school looks after your classes: ask your teacher to add you."))
        return redirect("grading:my_grades")
    form = JoinClassForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            join_request = services.class_join(student=request.user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            for message in _errors(exc):
                form.add_error("code", message)
        else:
            names = {"name": join_request.school_class.name, "school": join_request.school_class.school.name}
            if join_request.status == ClassJoinRequest.Status.JOINED:
                messages.success(request, _("You joined %(name)s at %(school)s.") % names)
            else:
                messages.success(
                    request,
                    _("We emailed your parent. You join %(name)s at %(school)s as soon as they approve.") % names,
                )
            return redirect("grading:class_join")
    context = {"form": form, "join_requests": selectors.class_join_requests_of(student=request.user)}
    return render(request, "grading/class_join.html", context, status=400 if form.errors else 200)


@referrer_origin_only
@never_cache
@require_http_methods(["GET", "POST"])
def class_join_answer(request: HttpRequest, token: str) -> HttpResponse:
    """A parent's emailed link: what the child asked, what the school would see, approve or decline."""
    try:
        question = services.class_join_question(token=token)
    except ValidationError as exc:
        return render(request, "grading/class_join_answer.html", {"error": _errors(exc)[0]}, status=410)
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        if decision not in ("approve", "decline"):
            return render(
                request,
                "grading/class_join_answer.html",
                {"question": question, "error": _("Choose approve or decline.")},
                status=400,
            )
        try:
            services.class_join_answer(token=token, approve=decision == "approve")
        except ValidationError as exc:
            return render(request, "grading/class_join_answer.html", {"error": _errors(exc)[0]}, status=409)
        return render(request, "grading/class_join_answer.html", {"done": decision, "question": question}, status=200)
    return render(request, "grading/class_join_answer.html", {"question": question})
