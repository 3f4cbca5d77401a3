"""Every path that creates an account meets the age gate: the test enumerates them from the URL conf, so a
new path (a provider, an API) fails here until it is proven to be gated."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.adapters import AccountAdapter, SocialAccountAdapter
from accounts.models import User
from consent.models import AgeDecision, AgeOutcome
from tests.consent.helpers import pass_age_gate

pytestmark = pytest.mark.django_db

# URL names of the views that can create an account (sign-up forms, provider callbacks, token logins).
CREATES_ACCOUNTS = re.compile(r"(signup|_callback|_login_by_token|provider_token)$")
EXPECTED_PATHS = {
    "account_signup",
    "socialaccount_signup",
    "google_callback",
    "google_login_by_token",
    "facebook_callback",
    "facebook_login_by_token",
    "microsoft_callback",
    "yahoo_callback",
    # allauth's headless API (both clients): proven gated in tests/api/test_age_gate_and_signup.py
    "signup",
    "provider_signup",
    "provider_token",
}
ADULT_SIGNUP = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "password1": "analytical-engine-1843",
    "password2": "analytical-engine-1843",
    "accept_policy": "on",
}


def _walk(patterns: list[Any]) -> Iterator[URLPattern]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns)
        else:
            yield pattern


def test_the_sign_up_paths_are_exactly_the_known_gated_ones() -> None:
    found = {p.name for p in _walk(get_resolver().url_patterns) if p.name and CREATES_ACCOUNTS.search(p.name)}
    found -= {"consent:child_signup", "child_signup"}  # the child's form creates no account, only a sealed request
    assert found == EXPECTED_PATHS, "a new sign-up path appeared: prove it meets the age gate, then add it here"


@pytest.mark.parametrize("provider", ["google", "facebook", "microsoft", "yahoo"])
def test_every_provider_callback_and_token_login_ends_in_the_gated_sign_up_form(provider: str) -> None:
    """allauth sends a new social user to the sign-up form unless auto sign-up is allowed; it never is."""
    adapter = SocialAccountAdapter()
    request = RequestFactory().get("/")
    assert adapter.is_auto_signup_allowed(request, sociallogin=None) is False
    assert settings.SOCIALACCOUNT_AUTO_SIGNUP is False


@pytest.mark.parametrize("decision", ["none", "child"])
def test_the_email_sign_up_without_an_adult_decision_creates_nothing(client: Client, decision: str) -> None:
    if decision == "child":
        pass_age_gate(client, age=9, country="US")

    for method in ("get", "post"):
        response = getattr(client, method)(reverse("account_signup"), ADULT_SIGNUP)
        assert response.status_code == 302
        expected = reverse("consent:child_signup") if decision == "child" else reverse("consent:age_gate")
        assert response["Location"].startswith(expected)
    assert User.objects.count() == 0


def test_an_adult_signs_up_by_email_and_only_the_decision_is_stored(client: Client) -> None:
    pass_age_gate(client, age=30, country="DE")
    response = client.post(reverse("account_signup"), ADULT_SIGNUP)

    assert response.status_code == 302
    user = User.objects.get(email="ada@example.com")
    assert user.country.code == "DE"
    decision = AgeDecision.objects.select_related("rule").get(user=user)
    assert (decision.outcome, decision.consent_month, decision.rule.country) == (AgeOutcome.ADULT, None, "DE")


def _microsoft_callback(client: Client, fake: Any) -> Any:
    response = client.post(reverse("microsoft_login"), {"process": "login"})
    provider_redirect = requests.get(response["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(provider_redirect.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


@pytest.mark.parametrize("decision", ["none", "child"])
def test_a_microsoft_sign_up_without_an_adult_decision_creates_nothing(
    client: Client, fake_microsoft: Any, decision: str
) -> None:
    if decision == "child":
        pass_age_gate(client, age=12, country="US")
    response = _microsoft_callback(client, fake_microsoft)
    assert response["Location"] == reverse("socialaccount_signup")

    posted = client.post(
        reverse("socialaccount_signup"),
        {"first_name": "Marie", "last_name": "Curie", "email": "marie.curie@example.org", "accept_policy": "on"},
    )

    expected = reverse("consent:child_signup") if decision == "child" else reverse("consent:age_gate")
    assert posted.status_code == 302
    assert posted["Location"].startswith(expected)
    assert User.objects.count() == 0
    assert SocialAccount.objects.count() == 0


def test_a_child_who_starts_with_microsoft_is_led_to_the_child_sign_up(client: Client, fake_microsoft: Any) -> None:
    _microsoft_callback(client, fake_microsoft)
    gate = client.get(reverse("socialaccount_signup"))
    assert gate["Location"].startswith(reverse("consent:age_gate"))

    response = pass_age_gate(client, age=11, country="GB", next_url=reverse("socialaccount_signup"))

    assert response["Location"] == reverse("consent:child_signup")
    assert client.get(reverse("socialaccount_signup"))["Location"] == reverse("consent:child_signup")
    assert User.objects.count() == 0


def test_the_adapter_refuses_to_save_any_user_without_an_adult_decision(db: Any) -> None:
    """The last line of defence for any path, present or future, that reaches allauth's save_user."""
    request = RequestFactory().post("/")
    form = type("Form", (), {"cleaned_data": {"email": "x@example.com", "first_name": "X", "last_name": "Y"}})()

    with pytest.raises(ImmediateHttpResponse):
        AccountAdapter(request).save_user(request, User(), form)
    assert User.objects.count() == 0


def test_an_adult_who_signs_up_with_microsoft_keeps_the_gate_decision(client: Client, fake_microsoft: Any) -> None:
    _microsoft_callback(client, fake_microsoft)
    pass_age_gate(client, age=35, country="NL", next_url=reverse("socialaccount_signup"))

    response = client.post(
        reverse("socialaccount_signup"),
        {"first_name": "Marie", "last_name": "Curie", "email": "marie.curie@example.org", "accept_policy": "on"},
    )

    assert response.status_code == 302
    user = User.objects.get(email="marie.curie@example.org")
    assert user.country.code == "NL"
    assert AgeDecision.objects.get(user=user).outcome == AgeOutcome.ADULT


def test_a_generated_username_taken_by_a_racing_sign_up_is_replaced_by_one_no_race_shares(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign-ups racing on the same name all read the same table and are offered the same shortest free
    username; the losers of the unique index must not be offered it again (three tries of one name: a 500)."""
    User.objects.create_user(username="ada7", email="first@example.com", password="analytical-engine-1843")
    # what every racing request computed before the winner committed "ada7"
    monkeypatch.setattr(DefaultAccountAdapter, "generate_unique_username", lambda self, txts, regex=None: "ada7")
    pass_age_gate(client, age=30, country="DE")

    response = client.post(reverse("account_signup"), ADULT_SIGNUP)

    assert response.status_code == 302
    user = User.objects.get(email="ada@example.com")
    assert re.fullmatch(r"ada7[0-9]{8}", user.username), user.username
    assert User.objects.filter(username__iexact="ada7").count() == 1
