"""The API's age gate, and every API path that creates an account refusing without an adult decision."""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialAccount
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.adapters import SocialAccountAdapter
from accounts.models import User
from consent.models import AgeDecision, AgeOutcome, PendingSignup
from tests.api.helpers import adult_signup_body, age_token, birth_date, call

pytestmark = pytest.mark.django_db

APP_SIGNUP = "/_allauth/app/v1/auth/signup"
BROWSER_SIGNUP = "/_allauth/browser/v1/auth/signup"


def test_the_gate_gives_a_decision_and_a_token_but_never_the_threshold(client: Client) -> None:
    response = call(client, "post", "/api/v1/age-gate/", {"birth_date": birth_date(9), "country": "US"})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"outcome", "next", "decision_token", "expires_in"}
    assert (body["outcome"], body["next"]) == ("child", "child_signup")
    assert body["expires_in"] >= 24 * 3600
    assert "13" not in response.content.decode().replace(body["decision_token"], "")


def test_answering_again_with_a_token_yields_the_first_decision(client: Client) -> None:
    token = age_token(client, age=9, country="US")
    again = call(
        client,
        "post",
        "/api/v1/age-gate/",
        {"birth_date": birth_date(40), "country": "US"},
        **{"X-Age-Decision": token},
    )
    assert again.json()["outcome"] == "child"


def test_a_browser_client_gets_the_gate_cookie_like_the_pages() -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/_allauth/browser/v1/config")  # allauth's browser client hands out the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    refused = call(
        client, "post", "/api/v1/age-gate/", {"birth_date": birth_date(30), "country": "GB", "client": "browser"}
    )
    assert refused.status_code == 403
    assert "mindomo_age" not in "".join(refused.cookies)

    response = call(
        client,
        "post",
        "/api/v1/age-gate/",
        {"birth_date": birth_date(30), "country": "GB", "client": "browser"},
        **{"X-CSRFToken": csrf},
    )
    assert response.status_code == 200
    assert response.cookies, "the decision cookie is set for the browser"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"country": "GB"}, "birth_date"),
        ({"birth_date": "not a date", "country": "GB"}, "birth_date"),
        ({"birth_date": "2999-01-01", "country": "GB"}, "birth_date"),
        ({"birth_date": "1990-01-01", "country": "ZZ"}, "country"),
        ({"birth_date": "1990-01-01", "country": "GB", "extra": 1}, "extra"),
        ({"birth_date": 19900101, "country": ["GB"]}, "birth_date"),
    ],
)
def test_bad_gate_input_is_a_400_with_the_error_body(client: Client, body: dict[str, Any], param: str | None) -> None:
    response = call(client, "post", "/api/v1/age-gate/", body)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors
    assert all(set(error) == {"code", "message", "param"} for error in errors)
    assert param in {error["param"] for error in errors}


def test_error_messages_follow_accept_language(client: Client) -> None:
    messages = {}
    for language in ("en", "ro", "de", "fr", "es"):
        response = call(client, "post", "/api/v1/age-gate/", {"country": "GB"}, **{"Accept-Language": language})
        messages[language] = response.json()["errors"][0]["message"]
    assert len(set(messages.values())) == 5, messages


# --- every path that creates an account -------------------------------------------------------------
def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern), pattern


CREATES = re.compile(r"(signup|provider/token)")
EXPECTED = {
    "_allauth/app/v1/auth/signup",
    "_allauth/browser/v1/auth/signup",
    "_allauth/app/v1/auth/provider/signup",
    "_allauth/browser/v1/auth/provider/signup",
    "_allauth/app/v1/auth/provider/token",
    "_allauth/browser/v1/auth/provider/token",
    "api/v1/child-signup/",
    "api/v1/child-signup/resend/",
}


def _api_routes() -> set[str]:
    return {
        route
        for route, _pattern in _walk(get_resolver().url_patterns)
        if route.startswith(("api/", "_allauth/")) and CREATES.search(route)
    }


def test_the_api_paths_that_create_accounts_are_exactly_the_known_gated_ones() -> None:
    assert _api_routes() == EXPECTED, "a new API path creates accounts: prove it meets the age gate, add it here"


@pytest.mark.parametrize("route", sorted(EXPECTED))
@pytest.mark.parametrize("decision", ["none", "child", "browser_token_on_app"])
def test_every_account_creating_api_path_refuses_without_an_adult_decision(
    client: Client, route: str, decision: str
) -> None:
    if decision == "child" and route == "api/v1/child-signup/":
        pytest.skip("a child decision is what the child's sign-up takes (tests/api/test_journey.py)")
    headers: dict[str, str] = {}
    if decision == "child":
        headers["X-Age-Decision"] = age_token(client, age=9, country="US")
    elif decision == "browser_token_on_app":
        headers["X-Age-Decision"] = age_token(client, age=30, client_kind="browser")
        client.cookies.clear()
    body: dict[str, Any] = {
        **adult_signup_body(),
        "provider": "google",
        "process": "login",
        "token": {"client_id": "x", "id_token": "y"},
    }
    if route.startswith("api/"):
        body = {"login": "mia2016", "password": "purple-giraffe-runs-42", "parent_email": "p@example.org"}
        if route.endswith("resend/"):
            body = {"resend_token": "x"}
    before = (User.objects.count(), SocialAccount.objects.count(), AgeDecision.objects.count())

    response = call(client, "post", "/" + route, body, **headers)

    assert 400 <= response.status_code < 500, response.content
    assert (User.objects.count(), SocialAccount.objects.count(), AgeDecision.objects.count()) == before
    if route.startswith("api/v1/child-signup/") and decision != "child":
        assert PendingSignup.objects.count() == 0


@pytest.mark.parametrize("route", [APP_SIGNUP, BROWSER_SIGNUP])
def test_a_headless_sign_up_without_a_decision_names_the_gate(client: Client, route: str) -> None:
    response = call(client, "post", route, adult_signup_body())
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "age_gate_required"
    assert User.objects.count() == 0


def test_a_child_decision_on_the_adult_sign_up_points_to_the_child_sign_up(client: Client) -> None:
    token = age_token(client, age=9, country="US")
    response = call(client, "post", APP_SIGNUP, adult_signup_body(), **{"X-Age-Decision": token})
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "child_signup_required"
    assert User.objects.count() == 0


def test_an_adult_signs_up_through_the_app_client_with_the_token(client: Client) -> None:
    token = age_token(client, age=30, country="DE")
    response = call(client, "post", APP_SIGNUP, adult_signup_body(), **{"X-Age-Decision": token})

    assert response.status_code == 401, response.content  # pending email verification, as allauth has it
    user = User.objects.get(email="ada@example.com")
    assert user.country.code == "DE"
    assert AgeDecision.objects.get(user=user).outcome == AgeOutcome.ADULT


def test_an_adult_signs_up_through_the_browser_client_with_the_gate_cookie() -> None:
    client = Client()
    age_token(client, age=30, country="FR", client_kind="browser")
    response = call(client, "post", BROWSER_SIGNUP, adult_signup_body())
    assert response.status_code == 401, response.content
    assert User.objects.get(email="ada@example.com").country.code == "FR"


def test_a_headless_provider_sign_up_is_refused_by_the_adapter_without_a_decision() -> None:
    from allauth.headless.internal.decorators import mark_request_as_headless

    request = RequestFactory().post("/_allauth/app/v1/auth/provider/token")
    request.allauth = type("A", (), {})()  # type: ignore[attr-defined]
    mark_request_as_headless(request, "app")  # type: ignore[arg-type]
    request.resolver_match = SimpleNamespace(url_name="provider_token")  # type: ignore[assignment]

    with pytest.raises(ImmediateHttpResponse) as refused:
        SocialAccountAdapter(request).is_open_for_signup(request, sociallogin=None)  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
