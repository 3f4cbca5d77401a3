"""The school's pages: OneRoster import, sign-in domains and answers to requests to join (only the school's
administrators: anyone else gets 404); the school sign-in and the request to join as a teacher (anyone)."""

from __future__ import annotations

from allauth.account.adapter import get_adapter as get_account_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedRequest

from . import roster, selectors, services, signin
from .forms import DomainForm, JoinAnswerForm, RosterConfirmForm, RosterUploadForm, SchoolSignInForm, TeacherJoinForm
from .models import RosterImport, SchoolDomain, TeacherJoinRequest


@login_required
@require_http_methods(["GET", "POST"])
def roster_upload(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    school = get_object_or_404(selectors.schools_administered_by(viewer=request.user), pk=school_id)
    form = RosterUploadForm(
        request.POST if request.method == "POST" else None, request.FILES if request.method == "POST" else None
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        roster_import = roster.roster_preview(
            actor=request.user, school=school, upload=upload.chunks(), size=upload.size
        )
        return redirect("schools:roster_import", school_id=school.pk, import_id=roster_import.pk)
    imports = [
        (item, roster.roster_import_state_label(item)) for item in RosterImport.objects.filter(school=school)[:10]
    ]
    status = 400 if request.method == "POST" else 200
    return render(
        request, "schools/roster_upload.html", {"school": school, "form": form, "imports": imports}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def roster_import(request: AuthenticatedRequest, school_id: int, import_id: int) -> HttpResponse:
    roster_import = get_object_or_404(
        selectors.roster_imports_visible_to(viewer=request.user), pk=import_id, school_id=school_id
    )
    form = RosterConfirmForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            roster.roster_import_start(
                actor=request.user, roster_import=roster_import, confirm_erase=form.cleaned_data["confirm_erase"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
            status = 400
        else:
            return redirect("schools:roster_import", school_id=school_id, import_id=import_id)
    roster_import.refresh_from_db()
    summary = dict(roster_import.summary)
    for key in ("add", "change", "remove"):
        if key in summary:
            summary[key] = [(roster.kind_label(kind), label) for kind, label in summary[key]]
    interrupted = roster.roster_import_interrupted(roster_import)
    context = {
        "school": roster_import.school,
        "roster_import": roster_import,
        "state_label": roster.roster_import_state_label(roster_import),
        "summary": summary,
        "form": form,
        "progress": roster.roster_progress(import_id=roster_import.pk),
        "running": roster_import.state in (RosterImport.State.QUEUED, RosterImport.State.RUNNING) and not interrupted,
        "interrupted": interrupted,
        "counts": summary.get("counts")
        or {key: len(summary.get(key, [])) for key in ("add", "change", "remove", "erase", "problems")},
    }
    return render(request, "schools/roster_import.html", context, status=status)


@login_required
@require_POST
def roster_import_cancel(request: AuthenticatedRequest, school_id: int, import_id: int) -> HttpResponse:
    roster_import = get_object_or_404(
        selectors.roster_imports_visible_to(viewer=request.user), pk=import_id, school_id=school_id
    )
    try:
        roster.roster_import_cancel(actor=request.user, roster_import=roster_import)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, _("The import was cancelled and the file deleted."))
    return redirect("schools:roster_import", school_id=school_id, import_id=import_id)


@login_required
@require_POST
def roster_import_retry(request: AuthenticatedRequest, school_id: int, import_id: int) -> HttpResponse:
    """ "Try again" on an interrupted import."""
    roster_import = get_object_or_404(
        selectors.roster_imports_visible_to(viewer=request.user), pk=import_id, school_id=school_id
    )
    try:
        roster.roster_import_retry(actor=request.user, roster_import=roster_import)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.info(request, _("The import was queued again."))
    return redirect("schools:roster_import", school_id=school_id, import_id=import_id)


@login_required
@require_http_methods(["GET", "POST"])
def domains(request: AuthenticatedRequest, school_id: int) -> HttpResponse:
    """The school's email domains and its sign-in service (administrators only)."""
    school = get_object_or_404(selectors.schools_administered_by(viewer=request.user), pk=school_id)
    form = DomainForm(request.POST if request.method == "POST" and "domain" in request.POST else None)
    status = 200
    if request.method == "POST":
        if "remove" in request.POST or "verify" in request.POST:
            chosen = request.POST.get("remove") or request.POST.get("verify") or ""
            domain = get_object_or_404(
                SchoolDomain, pk=int(chosen) if chosen.isdecimal() and len(chosen) < 18 else 0, school=school
            )
            if "verify" in request.POST:
                return redirect(signin.sign_in_start(request, domain=domain, purpose="verify"))
            signin.domain_remove(admin=request.user, domain=domain)
            messages.info(request, _("The domain was removed."))
            return redirect("schools:domains", school_id=school.pk)
        if form.is_valid():
            try:
                signin.domain_add(admin=request.user, school=school, **form.cleaned_data)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                return redirect("schools:domains", school_id=school.pk)
        status = 400
    items = [(d, signin.txt_value(d)) for d in signin.domains_of_school(school)]
    return render(request, "schools/domains.html", {"school": school, "form": form, "items": items}, status=status)


@require_http_methods(["GET", "POST"])
def school_sign_in(request: HttpRequest) -> HttpResponse:
    """Students and teachers sign in with their school's Google or Microsoft account."""
    form = SchoolSignInForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        domain = signin.domain_for_email(form.cleaned_data["email"])
        if domain is not None:
            return render(
                request,
                "schools/sign_in.html",
                {
                    "form": form,
                    "domain": domain,
                    "provider_url": signin.sign_in_start(request, domain=domain, email=form.cleaned_data["email"]),
                },
            )
        form.add_error("email", _("No school signs in with this address here. Use your username and password."))
    status = 400 if request.method == "POST" else 200
    return render(request, "schools/sign_in.html", {"form": form, "domain": None}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def teacher_join(request: HttpRequest) -> HttpResponse:
    """After a school sign-in that matched nobody: ask to join the school as a teacher (students cannot)."""
    intent = signin.join_intent(request)
    domain = (
        SchoolDomain.objects.select_related("school").filter(pk=intent["domain"]).first()
        if intent is not None
        else None
    )
    if intent is None or domain is None:
        signin.join_intent_forget(request)
        messages.info(request, _("Sign in with your school account first."))
        return redirect("schools:sign_in")
    school = domain.school
    if intent.get("sent"):  # asked already (a double submit, the page reloaded): the same answer, nothing written
        return render(request, "schools/teacher_join_sent.html", {"school": school, "email": intent["email"]})
    initial = {"first_name": intent.get("first_name", ""), "last_name": intent.get("last_name", "")}
    form = TeacherJoinForm(request.POST if request.method == "POST" else None, initial=initial, school_name=school.name)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.teacher_join_request(
                    domain_id=domain.pk,
                    email=intent["email"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    language=get_language(),
                    client_ip=get_account_adapter(request).get_client_ip(request),
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                signin.join_intent_sent(request)
                return render(request, "schools/teacher_join_sent.html", {"school": school, "email": intent["email"]})
    context = {
        "school": school,
        "email": intent["email"],
        "form": form,
        "retention_days": services.JOIN_REQUEST_RETENTION_DAYS,
    }
    return render(request, "schools/teacher_join.html", context, status=status)


@login_required
@require_POST
def teacher_join_answer(request: AuthenticatedRequest, school_id: int, request_id: int) -> HttpResponse:
    """An administrator approves or declines a request to join as a teacher (from the roster page)."""
    school = get_object_or_404(selectors.schools_administered_by(viewer=request.user), pk=school_id)
    join_request = get_object_or_404(TeacherJoinRequest, pk=request_id, school=school)
    form = JoinAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose Approve or Decline."))
        return redirect(reverse("grading:school_roster", args=[school.pk]) + "#join-requests")
    approve = form.cleaned_data["answer"] == "approve"
    try:
        services.teacher_join_answer(
            admin=request.user, school=school, join_request_id=join_request.pk, approve=approve
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        name = f"{join_request.first_name} {join_request.last_name}"
        messages.success(
            request,
            _("%(name)s is now a teacher of %(school)s. We told them by email.") % {"name": name, "school": school.name}
            if approve
            else _("You declined the request of %(name)s. We told them by email.") % {"name": name},
        )
    return redirect(reverse("grading:school_roster", args=[school.pk]) + "#join-requests")
