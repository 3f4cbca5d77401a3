"""The end of a class and the school's grade retention period (``grading.retention``): the class's teacher ends
or archives it from the class's pages; the school's administrators set the period and end classes on the school's
grade retention page. Anyone else gets 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedRequest
from schools import services as school_services

from . import retention, selectors, services
from .forms import ClassEndForm, GradeRetentionForm
from .models import SchoolClass


def _ended_message(school_class: SchoolClass) -> str:
    info = retention.class_retention(school_class)
    if info["ends_on"] is None:
        return _("The class has no end date: its grades are kept until you set one.")
    return _("The class ends on %(ends_on)s; its grades will be deleted on %(deleted_on)s.") % {
        "ends_on": formats.date_format(info["ends_on"]),
        "deleted_on": formats.date_format(info["grades_deleted_on"]),
    }


@login_required
@require_POST
def class_end(request: AuthenticatedRequest, class_id: int) -> HttpResponse:
    """The teacher sets the class's last day, archives it (ends it today) or removes its end."""
    school_class = get_object_or_404(
        selectors.class_list_taught_by(viewer=request.user).select_related("school"), pk=class_id
    )
    # back to the page the form was on: the gradebook, or the class's students
    back = "grading:class_students" if request.POST.get("from") == "students" else "grading:gradebook"
    form = ClassEndForm(request.POST)
    if "archive" in request.POST:
        ends_on = timezone.localdate()
    elif "clear" in request.POST:
        ends_on = None
    elif form.is_valid() and form.cleaned_data["ends_on"] is not None:
        ends_on = form.cleaned_data["ends_on"]
    else:
        messages.error(request, _("Enter the last day of the class."))
        return redirect(back, class_id=school_class.pk)
    try:
        services.class_end_set(actor=request.user, school_class=school_class, ends_on=ends_on)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _ended_message(school_class))
    return redirect(back, class_id=school_class.pk)


@login_required
@require_http_methods(["GET", "POST"])
def school_grade_retention(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    """The school's grade retention period and its classes' ends (the school's administrators only)."""
    school = get_object_or_404(selectors.school_list_administered_by(viewer=request.user), pk=school_id)
    form = GradeRetentionForm(
        request.POST if request.method == "POST" and "months" in request.POST else None,
        initial={"months": school.grade_retention_months},
    )
    status = 200
    if request.method == "POST":
        if "archive" in request.POST:
            chosen = request.POST["archive"]
            school_class = get_object_or_404(
                SchoolClass.objects.select_related("school"),
                pk=int(chosen) if chosen.isdecimal() and len(chosen) < 18 else 0,
                school=school,
            )
            try:
                services.class_end_set(actor=request.user, school_class=school_class, ends_on=timezone.localdate())
            except ValidationError as exc:
                for message in exc.messages:
                    messages.error(request, message)
            else:
                messages.success(request, _ended_message(school_class))
            return redirect("grading:school_grade_retention", school_id=school.pk)
        if form.is_valid():
            try:
                school_services.school_grade_retention_set(
                    admin=request.user, school=school, months=form.cleaned_data["months"]
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("months", message)
            else:
                messages.success(request, _("The grade retention period was saved."))
                return redirect("grading:school_grade_retention", school_id=school.pk)
        status = 400
    today = timezone.localdate()
    classes = [
        (c, retention.class_retention(c, today=today))
        for c in SchoolClass.objects.filter(school=school)
        .select_related("school", "teacher")
        .order_by(F("ends_on").asc(nulls_last=True), "name", "pk")
    ]
    return render(
        request,
        "grading/school_grade_retention.html",
        {"school": school, "form": form, "classes": classes},
        status=status,
    )
