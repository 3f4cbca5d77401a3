from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from mindomo.redaction import referrer_origin_only

from . import age_gate, services
from .constants import REQUEST_COOKIE
from .forms import AgeGateForm, ChildSignupForm, ParentDecisionForm
from .selectors import integral_third_parties

# Where the gate may send an adult next: the pages that create an account.
SIGNUP_URL_NAMES = ("account_signup", "socialaccount_signup")


# --- the request cookie: lets the child's browser (and only it) have the parent's email sent again ----
def _request_cookie_fernet() -> Fernet:
    digest = salted_hmac("consent.request.cookie", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _read_request_cookie(request: HttpRequest) -> tuple[str, str] | None:
    raw = request.COOKIES.get(REQUEST_COOKIE)
    if not raw:
        return None
    try:
        data: Any = json.loads(_request_cookie_fernet().decrypt(raw.encode(), ttl=settings.CONSENT_REQUEST_TTL))
        return str(data["p"]), str(data["k"])
    except (InvalidToken, ValueError, KeyError, TypeError):
        return None


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    allowed = tuple(reverse(name) for name in SIGNUP_URL_NAMES)
    if candidate.startswith(allowed) and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return reverse("account_signup")


def _after_decision(request: HttpRequest, decision: age_gate.Decision) -> HttpResponse:
    if decision.is_child:
        return redirect("consent:child_signup")
    return redirect(_safe_next(request))


# --- the age gate -----------------------------------------------------------------------------------
@never_cache
@require_http_methods(["GET", "POST"])
def age_gate_view(request: HttpRequest) -> HttpResponse:
    earlier = age_gate.read_decision(request)
    if earlier is not None:
        # A second answer within the cookie's life yields the first decision.
        return _after_decision(request, earlier)
    form = AgeGateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        decision = age_gate.decide(
            birth_date=form.cleaned_data["birth_date"],
            country=form.cleaned_data["country"],
            subdivision=form.cleaned_data.get("subdivision") or "",
            today=timezone.now().date(),
        )
        response = _after_decision(request, decision)
        age_gate.write_decision(response, decision)
        return response
    return render(request, "consent/age_gate.html", {"form": form, "next": _safe_next(request)})


# --- the child's sign-up ------------------------------------------------------------------------------
@never_cache
@require_http_methods(["GET", "POST"])
def child_signup(request: HttpRequest) -> HttpResponse:
    decision = age_gate.read_decision(request)
    if decision is None:
        return redirect("consent:age_gate")
    if not decision.is_child:
        return redirect("account_signup")
    form = ChildSignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            sealed = services.pending_signup_create(
                login=form.cleaned_data["login"],
                password=form.cleaned_data["password1"],
                parent_email=form.cleaned_data["parent_email"],
                decision=decision,
            )
        except ValidationError as error:
            field = {"same_email": "parent_email", "parent_limit": "parent_email", "unavailable": None}
            form.add_error(field.get(str(error.code), "login"), error)
        else:
            response = redirect("consent:child_sent")
            token = _request_cookie_fernet().encrypt(json.dumps({"p": sealed.public_id, "k": sealed.key}).encode())
            response.set_cookie(
                REQUEST_COOKIE,
                token.decode(),
                max_age=settings.CONSENT_REQUEST_TTL,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
            return response
    return render(request, "consent/child_signup.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def child_sent(request: HttpRequest) -> HttpResponse:
    held = _read_request_cookie(request)
    if request.method == "POST":
        if held is None:
            messages.error(request, _("This browser holds no open request. Please sign up again."))
            return redirect("consent:child_sent")
        try:
            services.pending_signup_resend(public_id=held[0], key=held[1])
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, _("We sent the email to your parent again."))
        return redirect("consent:child_sent")
    return render(request, "consent/child_sent.html", {"has_request": held is not None})


# --- the parent's page ----------------------------------------------------------------------------------
def _link_problem(request: HttpRequest, error: ValidationError) -> HttpResponse:
    status = 400 if error.code == "damaged" else 410
    return render(request, "consent/link_problem.html", {"error": error, "code": error.code}, status=status)


@referrer_origin_only
@never_cache
@require_http_methods(["GET", "POST"])
def parent(request: HttpRequest, public_id: str, key: str) -> HttpResponseBase:
    """GET shows the request and changes nothing (mail scanners open links); POST answers it."""
    try:
        opened = services.pending_signup_open(public_id=public_id, key=key)
    except services.ConsentLinkError as error:
        return _link_problem(request, error)
    form = ParentDecisionForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["action"] == "approve":
                child = services.pending_signup_approve(
                    public_id=public_id, key=key, guardian_confirmed=form.cleaned_data["guardian"]
                )
                return render(request, "consent/parent_done.html", {"approved": True, "login": child.username})
            services.pending_signup_refuse(public_id=public_id, key=key)
            return render(request, "consent/parent_done.html", {"approved": False})
        except services.ConsentLinkError as error:
            return _link_problem(request, error)
        except ValidationError as error:
            form.add_error(None, error)
    context = {
        "form": form,
        "login": opened.login,
        "expires_at": opened.pending.expires_at,
        "third_parties": integral_third_parties(),
        "support_email": settings.CONSENT_SUPPORT_EMAIL,
    }
    return render(request, "consent/parent.html", context)
