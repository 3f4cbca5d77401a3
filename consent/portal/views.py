"""The parent portal's pages. Thin: every child is looked up through ``reads.records_visible_to_parent``,
so another parent's child and a child that does not exist both give a 404."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mindomo.redaction import referrer_origin_only

from .. import hooks, receipts, verification
from ..forms import (
    AgeUpForm,
    ChildDeleteForm,
    ChildPasswordForm,
    GuardianInviteForm,
    PortalSignInForm,
    SchoolRequestByLoginForm,
    SchoolRequestForm,
)
from ..models import ConsentMethod, ConsentRecord
from ..selectors import third_parties_needing_separate_consent
from . import actions, downloads, reads, session


def _client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))


def parent_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        email = session.portal_email(request)
        if email is None:
            messages.info(request, _("Please sign in to the parent portal."))
            return redirect("consent:portal")
        request.parent_email = email  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return referrer_origin_only(never_cache(wrapped))


def _record(request: HttpRequest, child_id: int) -> ConsentRecord:
    record = reads.visible_record(email=request.parent_email, child_id=child_id)  # type: ignore[attr-defined]
    if record is None:
        raise Http404
    return record


def _form_errors(request: HttpRequest, form: Any) -> None:
    for errors in form.errors.values():
        for message in errors:
            messages.error(request, str(message))


# --- getting in -----------------------------------------------------------------------------------------
@referrer_origin_only
@never_cache
@require_http_methods(["GET", "POST"])
def portal_home(request: HttpRequest) -> HttpResponse:
    if request.method == "GET" and session.portal_email(request) is not None:
        return redirect("consent:portal_children")
    form = PortalSignInForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            session.portal_link_request(email=form.cleaned_data["email"], client_ip=_client_ip(request))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return render(request, "consent/portal_link_sent.html", {})
    return render(request, "consent/portal_home.html", {"form": form, "support_email": settings.CONSENT_SUPPORT_EMAIL})


def _link_problem(request: HttpRequest, error: ValidationError) -> HttpResponse:
    status = {"used": 410, "unavailable": 503}.get(str(error.code), 400)
    return render(request, "consent/link_problem.html", {"error": error, "code": error.code}, status=status)


@referrer_origin_only
@never_cache
@require_http_methods(["GET", "POST"])
def portal_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button (mail scanners open links); the POST uses the link, once."""
    try:
        if request.method == "POST":
            session.portal_sign_in(request=request, token=token)
            return redirect("consent:portal_children")
        session.portal_link_open(token=token)
    except ValidationError as error:
        return _link_problem(request, error)
    return render(request, "consent/portal_link.html", {})


@require_POST
def portal_sign_out(request: HttpRequest) -> HttpResponse:
    session.portal_sign_out(request)
    messages.success(request, _("You signed out of the parent portal."))
    return redirect("consent:portal")


# --- the children ------------------------------------------------------------------------------------------
@parent_required
@require_GET
def portal_children(request: HttpRequest) -> HttpResponse:
    rows = reads.children_rows(email=request.parent_email)  # type: ignore[attr-defined]
    return render(request, "consent/portal_children.html", {"rows": rows, "email": request.parent_email})  # type: ignore[attr-defined]


@parent_required
@require_GET
def portal_child(request: HttpRequest, child_id: int) -> HttpResponse:
    record = _record(request, child_id)
    context = reads.child_page(record=record, email=request.parent_email)  # type: ignore[attr-defined]
    if record.method == ConsentMethod.SCHOOL:
        context["school_form"] = SchoolRequestForm()
        return render(request, "consent/portal_child.html", context)
    context.update(
        {
            "password_form": ChildPasswordForm(),
            "delete_form": ChildDeleteForm(),
            "guardian_form": GuardianInviteForm(),
        }
    )
    return render(request, "consent/portal_child.html", context)


def _back(child_id: int) -> HttpResponse:
    return redirect("consent:portal_child", child_id=child_id)


@parent_required
@require_POST
def portal_child_password(request: HttpRequest, child_id: int) -> HttpResponse:
    record = _record(request, child_id)
    form = ChildPasswordForm(request.POST)
    if form.is_valid():
        try:
            actions.portal_child_set_password(
                record=record,
                parent_email=request.parent_email,  # type: ignore[attr-defined]
                password=form.cleaned_data["password1"],
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("The new password is set. Your child signs in with it from now on."))
    else:
        _form_errors(request, form)
    return _back(child_id)


@parent_required
@require_POST
def portal_child_suspend(request: HttpRequest, child_id: int) -> HttpResponse:
    record = _record(request, child_id)
    try:
        if request.POST.get("action") == "resume":
            actions.portal_child_resume(record=record, parent_email=request.parent_email)  # type: ignore[attr-defined]
            messages.success(request, _("Your child's account works again."))
        else:
            actions.portal_child_suspend(record=record, parent_email=request.parent_email)  # type: ignore[attr-defined]
            messages.success(request, _("Collection stopped: your child cannot sign in until you resume it."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _back(child_id)


@parent_required
@require_POST
def portal_child_delete(request: HttpRequest, child_id: int) -> HttpResponse:
    record = _record(request, child_id)
    form = ChildDeleteForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return _back(child_id)
    withdraw = form.cleaned_data["action"] == "withdraw"
    try:
        erased = actions.portal_child_erase(record=record, parent_email=request.parent_email, withdraw=withdraw)  # type: ignore[attr-defined]
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _back(child_id)
    return render(request, "consent/portal_deleted.html", {"erased": erased, "withdrawn": withdraw})


@parent_required
@require_POST
def portal_child_download(request: HttpRequest, child_id: int) -> HttpResponseBase:
    """The parent asks for the child's data: a Celery job builds the zip (consent/portal/downloads.py) and the
    parent follows its progress on the page it leads to, then downloads it there."""
    record = _record(request, child_id)
    try:
        prepared = downloads.child_archive_request(record=record, parent_email=request.parent_email)  # type: ignore[attr-defined]
    except ValidationError as error:
        raise Http404 from error  # a school-registered child's data is asked of the school
    return redirect("downloads:progress", public_id=prepared.public_id)


@parent_required
@require_GET
def portal_child_receipt(request: HttpRequest, child_id: int) -> HttpResponse:
    record = _record(request, child_id)
    document = receipts.receipt_build(record=record)
    response = HttpResponse(
        json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="consent-receipt-{record.child_id}.json"'
    return response


@parent_required
@require_POST
def portal_child_guardian(request: HttpRequest, child_id: int) -> HttpResponse:
    record = _record(request, child_id)
    form = GuardianInviteForm(request.POST)
    if form.is_valid():
        try:
            actions.portal_guardian_invite(
                record=record,
                parent_email=request.parent_email,  # type: ignore[attr-defined]
                guardian_email=form.cleaned_data["email"],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, _("We told the second guardian how to sign in. They have the same rights as you.")
            )
    else:
        messages.error(request, _("Please enter a valid email address."))
    return _back(child_id)


@parent_required
@require_POST
def portal_child_school_request(request: HttpRequest, child_id: int) -> HttpResponse:
    record = _record(request, child_id)
    form = SchoolRequestForm(request.POST)
    if form.is_valid():
        try:
            actions.school_request_send(
                record=record,
                parent_email=request.parent_email,  # type: ignore[attr-defined]
                request_kind=form.cleaned_data["request_kind"],
                message=form.cleaned_data["message"],
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, _("We sent your request to the school's administrators and your child's teachers.")
            )
    else:
        messages.error(request, _("Please choose what you ask for."))
    return _back(child_id)


# --- age-up: the child accepts the policy themselves ----------------------------------------------------
@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def age_up(request: HttpRequest) -> HttpResponse:
    if not reads.age_up_due(request.user):
        request.session.pop(session.AGE_UP_SESSION_KEY, None)
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = AgeUpForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        actions.age_up_complete(child=request.user)  # type: ignore[arg-type]
        request.session.pop(session.AGE_UP_SESSION_KEY, None)
        messages.success(request, _("Thank you. Your account is now yours to manage."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "consent/age_up.html", {"form": form})


# --- stronger verification for a disclosure to a non-integral third party (consent.verification) -----------
@parent_required
@require_http_methods(["GET", "POST"])
def portal_child_disclosure(request: HttpRequest, child_id: int, third_party_id: int) -> HttpResponse:
    record = _record(request, child_id)
    if record.method == ConsentMethod.SCHOOL:
        raise Http404
    third_party = next((p for p in third_parties_needing_separate_consent() if p.pk == third_party_id), None)
    if third_party is None:
        raise Http404
    if request.method == "POST":
        try:
            submitted = verification.disclosure_consent_submit(
                record=record,
                parent_email=request.parent_email,  # type: ignore[attr-defined]
                third_party=third_party,
                method=request.POST.get("method", ""),
                data={
                    "payment_method_nonce": request.POST.get("payment_method_nonce", ""),
                    "signed_form": request.FILES.get("signed_form"),
                },
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            if submitted.form is not None:
                messages.success(request, _("Thank you. Our staff will check your signed form and email you."))
            else:
                messages.success(request, _("Thank you. Your consent to this sharing is recorded."))
            return _back(child_id)
    client_token = hooks.card_check_client_token.implementation()()
    return render(
        request,
        "consent/portal_disclosure.html",
        {
            "record": record,
            "child": record.child,
            "third_party": third_party,
            "client_token": client_token,
            "amount": settings.CONSENT_CARD_CHARGE_AMOUNT,
        },
    )


@parent_required
@require_GET
def portal_child_disclosure_form(request: HttpRequest, child_id: int, third_party_id: int) -> HttpResponse:
    """The consent form to print, sign and upload (or scan), for one child and one provider."""
    record = _record(request, child_id)
    if record.method == ConsentMethod.SCHOOL:
        raise Http404
    third_party = next((p for p in third_parties_needing_separate_consent() if p.pk == third_party_id), None)
    if third_party is None:
        raise Http404
    return render(
        request,
        "consent/portal_disclosure_form.html",
        {"child": record.child, "third_party": third_party, "parent_email": request.parent_email},  # type: ignore[attr-defined]
    )


@never_cache
@require_http_methods(["GET", "POST"])
def portal_school_request(request: HttpRequest) -> HttpResponse:
    """A parent of a school-registered child sends a request to the school (no sign-in: the school verifies)."""
    form = SchoolRequestByLoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.school_request_by_login(
                login=form.cleaned_data["login"],
                parent_email=form.cleaned_data["email"],
                request_kind=form.cleaned_data["request_kind"],
                message=form.cleaned_data["message"],
                client_ip=_client_ip(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return render(request, "consent/portal_school_sent.html", {})
    return render(request, "consent/portal_school_request.html", {"form": form})
