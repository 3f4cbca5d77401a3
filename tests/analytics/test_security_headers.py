"""The Content-Security-Policy and Permissions-Policy on every response, and no third-party host anywhere."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from analytics.cookies import CHOICE_COOKIE
from tests.consent.helpers import pass_age_gate

pytestmark = pytest.mark.django_db


def directives(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


ANONYMOUS_PAGES = [
    "/",
    "/privacy/",
    "/cookies/",
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/consent/age/",
    "/admin/login/",
    "/no-such-page/",
    "/static/css/site.css",
]
SIGNED_IN_PAGES = ["/account/profile/", "/accounts/email/", "/accounts/password/change/", "/cookies/"]
ADMIN_PAGES = ["/admin/", "/admin/analytics/pageviewcount/", "/admin/accounts/user/"]


def assert_strict(response: Any) -> None:
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no other host
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]  # no provider or payment host configured in tests
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]


@pytest.mark.parametrize("url", ANONYMOUS_PAGES)
def test_every_public_page_carries_the_strict_policy(url: str) -> None:
    response = Client().get(url)
    assert response.status_code in {200, 302, 404}
    assert_strict(response)


@pytest.mark.parametrize("url", SIGNED_IN_PAGES)
def test_every_signed_in_page_carries_the_strict_policy(member_client: Client, url: str) -> None:
    response = member_client.get(url)
    assert response.status_code == 200
    assert_strict(response)


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_the_admin_carries_the_strict_policy(superuser_client: Client, url: str) -> None:
    response = superuser_client.get(url)
    assert response.status_code == 200
    assert_strict(response)


def test_a_redirect_and_a_refused_post_carry_it_too() -> None:
    assert_strict(Client().get("/account/profile/"))  # redirect to sign in
    assert_strict(Client().post("/cookies/pageview/", {"path": "/"}))  # 403


def test_form_action_admits_the_configured_sign_in_providers_and_2checkout(settings: Any) -> None:
    providers = {**settings.SOCIALACCOUNT_PROVIDERS}
    providers["google"] = {**providers["google"], "APPS": [{"client_id": "id", "secret": "s"}]}
    providers["microsoft"] = {
        **providers["microsoft"],
        "APPS": [{"client_id": "id", "secret": "s", "settings": {"login_url": "http://127.0.0.1:9999"}}],
    }
    settings.SOCIALACCOUNT_PROVIDERS = providers
    settings.TWOCHECKOUT_MERCHANT_CODE = "250111206876"
    settings.TWOCHECKOUT_CHECKOUT_URL = "https://secure.2checkout.com/checkout/buy"
    settings.CSP_FORM_ACTION_EXTRA = ["https://pay.example.org"]

    policy = directives(Client().get("/accounts/login/"))

    assert policy["form-action"] == [
        "'self'",
        "https://accounts.google.com",
        "http://127.0.0.1:9999",
        "https://pay.example.org",
        "https://secure.2checkout.com",
    ]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]


def test_braintree_is_admitted_on_the_card_payment_page_only(
    member: Any, member_client: Client, fake_braintree: Any
) -> None:
    from billing import services as billing_services
    from tests.billing.factories import BILLING, PlanFactory

    order = billing_services.order_create(user=member, plan=PlanFactory(), **BILLING)
    pay = member_client.get(reverse("billing:order_pay", args=[order.reference]))
    other = member_client.get("/account/profile/")

    assert pay.status_code == 200
    assert "https://js.braintreegateway.com" in directives(pay)["script-src"]
    assert "'unsafe-inline'" not in directives(pay)["script-src"]
    assert "client-analytics.braintreegateway.com" not in pay["Content-Security-Policy"]
    assert_strict(other)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.inline_scripts = 0
        self.inline_handlers: list[str] = []
        self.inline_styles = 0
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "action", "formaction", "data"):
            value = values.get(name)
            if value:
                self.urls.append((tag, name, value))
        self.inline_handlers += [name for name, _ in attrs if name.startswith("on")]
        if "style" in values:
            self.inline_styles += 1
        if tag == "script" and not values.get("src"):
            self.inline_scripts += 1
        if tag == "style":
            self.inline_styles += 1


THIRD_PARTY = re.compile(r"^(https?:)?//", re.IGNORECASE)


@pytest.mark.parametrize("role", ["anonymous", "opted_in", "member", "superuser"])
def test_no_page_references_a_third_party_host_or_holds_inline_script(
    role: str, member: Any, superuser: Any, password: str
) -> None:
    client = Client()
    if role == "member":
        client.force_login(member)
    elif role == "superuser":
        client.force_login(superuser)
    elif role == "opted_in":
        client.cookies[CHOICE_COOKIE] = "analytics"
    if role in {"anonymous", "opted_in"}:
        pass_age_gate(client, age=30, country="US")  # so that the sign-up page itself is shown
    pages = [*ANONYMOUS_PAGES[:-2], *SIGNED_IN_PAGES] if role != "anonymous" else ANONYMOUS_PAGES[:-2]
    if role == "superuser":
        pages += ADMIN_PAGES
    checked = 0
    for url in pages:
        response = client.get(url)
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        parser = _Links()
        parser.feed(response.content.decode())
        checked += 1
        foreign = [u for u in parser.urls if THIRD_PARTY.match(u[2]) and "//testserver" not in u[2]]
        assert foreign == [], url
        assert parser.inline_scripts == 0, url
        assert parser.inline_handlers == [], url
        assert parser.inline_styles == 0, url
    assert checked >= 5


def test_only_a_development_error_page_goes_without_the_policy(settings: Any) -> None:
    settings.DEBUG = True
    technical = Client().get("/no-such-page/")
    page = Client().get("/privacy/")
    settings.DEBUG = False
    production = Client().get("/no-such-page/")

    assert technical.status_code == 404
    assert "Content-Security-Policy" not in technical
    assert "geolocation=()" in technical["Permissions-Policy"]
    assert_strict(page)
    assert_strict(production)
