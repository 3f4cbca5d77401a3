"""The age gate and a child's sign-up: the same rules, forms and services as the pages (consent)."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any, Literal

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.utils import check_csrf

from consent import age_gate, services
from consent.forms import AgeGateForm, ChildSignupForm

from . import errors
from .errors import ApiError, responses
from .limits import consume
from .schemas import Done, Input

router = Router(tags=["sign-up"])


class AgeGateIn(Input):
    birth_date: datetime.date = Field(description="Used for the decision and dropped; never stored.")
    country: str = Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2 country of residence")
    subdivision: str = Field("", max_length=6, description="ISO 3166-2 region where it has its own rule")
    client: Literal["app", "browser"] = Field(
        "app", description="The allauth client that signs up: the token (and for a browser, a cookie) is bound to it."
    )


class AgeGateOut(Schema):
    outcome: Literal["adult", "child"]
    next: Literal["signup", "child_signup"] = Field(
        description="'signup': allauth's headless sign-up (or provider sign-up) with the token; "
        "'child_signup': POST /api/v1/child-signup/ with the token."
    )
    decision_token: str = Field(description="Send it in the X-Age-Decision header (app client).")
    expires_in: int = Field(description="Seconds the decision stays valid (at least 24 hours).")


def _csrf(request: HttpRequest) -> None:
    if check_csrf(request) is not None:
        raise ApiError.one(403, "csrf_failed", _("The CSRF check failed. Nothing was saved."))


def _out(decision: age_gate.Decision, *, client: str) -> dict[str, Any]:
    return {
        "outcome": "child" if decision.is_child else "adult",
        "next": "child_signup" if decision.is_child else "signup",
        "decision_token": age_gate.issue_token(decision, client=client),
        "expires_in": age_gate.cookie_max_age(),
    }


@router.post("/age-gate/", response=responses(AgeGateOut), auth=None, operation_id="age_gate")
def age_gate_decide(request: HttpRequest, response: HttpResponse, payload: AgeGateIn) -> dict[str, Any]:
    """The neutral age gate: a birth date and a country give a decision; the threshold is never returned.

    Answering again while a decision is held (the X-Age-Decision header of an app, the cookie of a browser)
    yields the first decision.
    """
    if payload.client == "browser":
        _csrf(request)
        earlier = age_gate.read_decision(request)
    else:
        earlier = age_gate.read_token(request.headers.get(age_gate.TOKEN_HEADER, ""), client="app")
    if earlier is not None:
        decision = earlier
    else:
        birth = payload.birth_date
        form = AgeGateForm(
            {
                "day": birth.day,
                "month": birth.month,
                "year": birth.year,
                "country": payload.country,
                "subdivision": payload.subdivision,
            }
        )
        if not form.is_valid():
            raise errors.from_form(form, fields={"day": "birth_date", "month": "birth_date", "year": "birth_date"})
        decision = age_gate.decide(
            birth_date=form.cleaned_data["birth_date"],
            country=form.cleaned_data["country"],
            subdivision=form.cleaned_data.get("subdivision") or "",
            today=timezone.now().date(),
        )
    if payload.client == "browser":
        age_gate.write_decision(response, decision)
    return _out(decision, client=payload.client)


# --- a child's sign-up --------------------------------------------------------------------------------------
class ChildSignupIn(Input):
    login: str = Field(max_length=150, description="A username, or the child's own email address")
    password: str = Field(max_length=4096)
    parent_email: str = Field(max_length=254)


class ChildSignupOut(Schema):
    request_id: str
    resend_token: str = Field(description="Keep it to have the parent's email sent again (POST .../resend/).")


class ResendIn(Input):
    resend_token: str = Field(max_length=1000)


def _resend_fernet() -> Fernet:
    digest = salted_hmac("api.child_signup.resend", "fernet", algorithm="sha256").digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def client_decision(request: HttpRequest) -> age_gate.Decision | None:
    """An app sends the decision token in X-Age-Decision; a browser holds the gate's cookie (CSRF checked)."""
    token = request.headers.get(age_gate.TOKEN_HEADER)
    if token is not None:
        return age_gate.read_token(token, client="app")
    _csrf(request)
    return age_gate.read_decision(request)


@router.post(
    "/child-signup/", response=responses(ChildSignupOut, status=201), auth=None, operation_id="child_signup_create"
)
def child_signup(request: HttpRequest, payload: ChildSignupIn) -> Status:
    """A child's sealed sign-up: the parent is emailed and decides; nothing else about the child is kept."""
    decision = client_decision(request)
    if decision is None:
        raise ApiError.one(
            403,
            "age_gate_required",
            _("Answer the age question first (POST /api/v1/age-gate/), then send its decision with the sign-up."),
            age_gate.TOKEN_HEADER,
        )
    if not decision.is_child:
        raise ApiError.one(
            403,
            "adult_signup",
            _("This sign-up does not need a parent's consent: use the sign-up of the authentication API."),
            age_gate.TOKEN_HEADER,
        )
    consume(request, kind="email")
    form = ChildSignupForm(
        {
            "login": payload.login,
            "password1": payload.password,
            "password2": payload.password,
            "parent_email": payload.parent_email,
        }
    )
    if not form.is_valid():
        raise errors.from_form(form, fields={"password1": "password", "password2": "password"})
    try:
        sealed = services.pending_signup_create(
            login=form.cleaned_data["login"],
            password=form.cleaned_data["password1"],
            parent_email=form.cleaned_data["parent_email"],
            decision=decision,
        )
    except ValidationError as error:
        field = {"same_email": "parent_email", "parent_limit": "parent_email", "unavailable": None}
        raise errors.from_validation_error(error, param=field.get(str(error.code), "login")) from error
    token = _resend_fernet().encrypt(json.dumps({"p": sealed.public_id, "k": sealed.key}).encode()).decode()
    return Status(201, {"request_id": sealed.public_id, "resend_token": token})


@router.post("/child-signup/resend/", response=responses(Done), auth=None, operation_id="child_signup_resend")
def child_signup_resend(request: HttpRequest, payload: ResendIn) -> dict[str, str]:
    """Have the parent's email sent again (CONSENT_RESEND_MAX per request, a daily cap per parent address)."""
    consume(request, kind="email")
    try:
        data: Any = json.loads(
            _resend_fernet().decrypt(payload.resend_token.encode(), ttl=settings.CONSENT_REQUEST_TTL)
        )
        public_id, key = str(data["p"]), str(data["k"])
    except (InvalidToken, ValueError, KeyError, TypeError) as exc:
        raise ApiError.one(400, "invalid_token", _("This token is not valid or has expired."), "resend_token") from exc
    try:
        services.pending_signup_resend(public_id=public_id, key=key)
    except ValidationError as error:
        raise errors.from_validation_error(error) from error
    return {"detail": _("We sent the email to your parent again.")}
