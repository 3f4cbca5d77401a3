"""Where higher apps take part in accounts' work (see mindomo.hooks): they register in their ``ready()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from mindomo.hooks import Hook

# Before any sign-up form: a response to send the visitor elsewhere first (consent's age gate), or None.
signup_redirect: Hook[Callable[[HttpRequest], HttpResponse | None]] = Hook("accounts.signup_redirect")
# Just before a new account is saved: may fill the user in (the country the age gate asked); a response
# refuses the sign-up and is shown instead.
signup_prepare: Hook[Callable[[HttpRequest, Any], HttpResponse | None]] = Hook("accounts.signup_prepare")
# Right after a sign-up saved the account (consent records the age gate's decision).
signup_saved: Hook[Callable[[HttpRequest, Any], None]] = Hook("accounts.signup_saved")
# A person created an account by accepting the privacy policy (the sign-up forms, the demo data).
account_created: Hook[Callable[[Any], None]] = Hook("accounts.account_created")
# Accounts with no social links and no marketing email (children under parental consent, school accounts).
account_is_restricted: Hook[Callable[[Any], bool]] = Hook("accounts.account_is_restricted")
# Accounts a school registered (their data requests go through the school).
account_is_school_registered: Hook[Callable[[Any], bool]] = Hook("accounts.account_is_school_registered")
# Why an inactive account cannot sign in, as a page (consent: a parent paused the child's account), or None.
inactive_reason: Hook[Callable[[HttpRequest, Any], HttpResponse | None]] = Hook("accounts.inactive_reason")
# A social sign-in came back from its provider: a response finishes it differently (the schools app signs a person
# into their school account, or refuses a personal account there), None lets allauth go on.
social_login_intercept: Hook[Callable[[HttpRequest, Any], HttpResponse | None]] = Hook(
    "accounts.social_login_intercept"
)
# Accounts whose consent stands in for email verification (a child who chose a username has no email).
email_verification_waived: Hook[Callable[[Any], bool]] = Hook("accounts.email_verification_waived")


def signup_response(request: HttpRequest) -> HttpResponse | None:
    """The first response a registered app gives before sign-up, or None to go on."""
    for hook in signup_redirect:
        response = hook(request)
        if response is not None:
            return response
    return None


def is_restricted(user: Any) -> bool:
    return any(predicate(user) for predicate in account_is_restricted)


def verification_waived(user: Any) -> bool:
    return any(predicate(user) for predicate in email_verification_waived)


def created(user: Any) -> None:
    for hook in account_created:
        hook(user)


def is_school_registered(user: Any) -> bool:
    return any(predicate(user) for predicate in account_is_school_registered)


def social_login_response(request: HttpRequest, sociallogin: Any) -> HttpResponse | None:
    """The first response a registered app gives for a social sign-in, or None."""
    for hook in social_login_intercept:
        response = hook(request, sociallogin)
        if response is not None:
            return response
    return None


def inactive_response(request: HttpRequest, user: Any) -> HttpResponse | None:
    """The first page a registered app gives to explain an inactive account, or None."""
    for hook in inactive_reason:
        response = hook(request, user)
        if response is not None:
            return response
    return None
