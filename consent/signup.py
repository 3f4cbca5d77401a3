"""Consent's part in accounts' sign-up, registered with ``accounts.hooks`` in ``ConsentConfig.ready()``."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext

from mindomo.middleware import api_error_response

from . import age_gate, selectors, services


def _api_refusal(*, code: str, message: str) -> JsonResponse:
    """allauth's headless API refuses the sign-up in the API's error body (with allauth's ``status`` too)."""
    response = api_error_response(status=403, code=code, message=message, param=age_gate.TOKEN_HEADER)
    body = {"status": 403, **json.loads(response.content)}
    return JsonResponse(body, status=403)


def signup_redirect(request: HttpRequest) -> HttpResponse | None:
    """Where a sign-up must go instead, by the client's age gate decision; None for an adult.

    Every path that creates an account passes here (local form, each provider's sign-up form, the
    final save, and allauth's headless sign-ups): no decision sends the visitor to the neutral gate, a child
    to the child's sign-up; the headless API answers the same with a 403 error body.
    """
    decision = age_gate.read_decision(request)
    headless = age_gate.headless_client(request) is not None
    if decision is None:
        if headless:
            return _api_refusal(
                code="age_gate_required",
                message=gettext(
                    "Answer the age question first (POST /api/v1/age-gate/), then send its decision with the sign-up."
                ),
            )
        return redirect(f"{reverse('consent:age_gate')}?{urlencode({'next': request.get_full_path()})}")
    if decision.is_child:
        if headless:
            return _api_refusal(
                code="child_signup_required",
                message=gettext(
                    "This sign-up needs a parent's permission: use the child sign-up (POST /api/v1/child-signup/)."
                ),
            )
        return redirect("consent:child_signup")
    return None


def signup_prepare(request: HttpRequest, user: Any) -> HttpResponse | None:
    """No account is ever saved without an adult decision from the gate; the gate's country is copied."""
    response = signup_redirect(request)
    decision = age_gate.read_decision(request)
    if response is not None or decision is None:
        return response or redirect("consent:age_gate")
    user.country = decision.country  # the country the gate decided with; never asked twice
    return None


def signup_saved(request: HttpRequest, user: Any) -> None:
    decision = age_gate.read_decision(request)
    if decision is not None:
        services.age_decision_record(user=user, decision=decision)


def account_is_restricted(user: Any) -> bool:
    """Children under parental consent and accounts a school registered: no social links, no marketing."""
    return bool(selectors.is_child_account(user) or selectors.is_school_consented(user))


def account_is_school_registered(user: Any) -> bool:
    return selectors.is_school_consented(user)


def inactive_reason(request: HttpRequest, user: Any) -> HttpResponse | None:
    """A child whose parent stopped collection sees a kind page saying so and how to ask them."""
    if selectors.is_paused_by_parent(user):
        return render(request, "account/account_paused.html", status=403)
    if selectors.is_paused_for_policy(user):
        return render(request, "account/account_paused.html", {"for_policy": True}, status=403)
    return None


def email_verification_waived(user: Any) -> bool:
    """A child's account created through a parent's or a school's consent may have no email at all."""
    return selectors.consent_for_child(child=user) is not None
