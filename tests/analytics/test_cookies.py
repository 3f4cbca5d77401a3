"""The cookie banner, the cookie settings page and the stored choice."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from analytics.cookies import CHOICE_COOKIE, catalogue
from analytics.models import CookieConsent
from consent import age_gate
from consent import services as consent_services
from consent.reference_data import ensure_loaded
from tests.analytics.helpers import make_parental_child, make_school_child
from tests.consent.factories import make_user
from tests.consent.helpers import birth_date_for_age, gate_data, pass_age_gate

pytestmark = pytest.mark.django_db

SCRIPT = "js/analytics.js"
BANNER = 'id="cookie-banner"'
CATALOGUE_NAMES = {cookie.name for cookie in catalogue()}


def client_for(role: str) -> Client:
    """A browser for each kind of visitor the rules distinguish."""
    client = Client()
    if role == "adult":
        client.force_login(make_user())
    elif role == "parental_child":
        client.force_login(make_parental_child())
    elif role == "school_child":
        client.force_login(make_school_child())
    elif role == "child_at_the_age_gate":
        ensure_loaded()
        response = client.post(reverse("consent:age_gate"), gate_data(birth_date_for_age(9), "US"))
        assert age_gate.COOKIE_NAME in response.cookies
    elif role == "adult_at_the_age_gate":
        pass_age_gate(client, age=30, country="US")
    return client


def test_a_first_visit_shows_the_banner_sets_only_essential_cookies_and_loads_no_analytics() -> None:
    client = Client()

    response = client.get("/privacy/")

    body = response.content.decode()
    assert response.status_code == 200
    assert BANNER in body
    assert SCRIPT not in body
    assert "Accept analytics" in body
    assert "Reject analytics" in body
    assert set(response.cookies) <= CATALOGUE_NAMES
    assert CHOICE_COOKIE not in response.cookies


def test_accept_and_reject_buttons_are_equally_prominent() -> None:
    body = Client().get("/privacy/").content.decode()
    accept = body[body.index('value="analytics"') - 80 : body.index("Accept analytics")]
    reject = body[body.index('value="essential"') - 80 : body.index("Reject analytics")]
    assert 'class="button"' in accept
    assert 'class="button"' in reject
    assert "secondary" not in accept + reject


def test_accepting_from_the_banner_stores_only_the_decision_and_loads_analytics() -> None:
    client = Client()

    response = client.post(reverse("analytics:settings"), {"choice": "analytics", "next": "/privacy/"})

    assert response.status_code == 302
    assert response["Location"] == "/privacy/"
    assert response.cookies[CHOICE_COOKIE].value == "analytics"
    assert response.cookies[CHOICE_COOKIE]["httponly"]
    assert response.cookies[CHOICE_COOKIE]["samesite"] == "Lax"
    assert not CookieConsent.objects.exists()  # an anonymous choice lives in the browser only
    body = client.get("/privacy/").content.decode()
    assert SCRIPT in body
    assert BANNER not in body


def test_rejecting_hides_the_banner_and_loads_nothing() -> None:
    client = Client()
    client.post(reverse("analytics:settings"), {"choice": "essential", "next": "/"})

    body = client.get("/privacy/").content.decode()

    assert client.cookies[CHOICE_COOKIE].value == "essential"
    assert BANNER not in body
    assert SCRIPT not in body


def test_an_adults_choice_is_kept_and_follows_them_to_another_browser() -> None:
    adult = make_user()
    first = Client()
    first.force_login(adult)
    first.post(reverse("analytics:settings"), {"choice": "analytics"})

    assert CookieConsent.objects.get(user=adult).choice == "analytics"
    second = Client()  # no cookie at all
    second.force_login(adult)
    body = second.get("/privacy/").content.decode()
    assert SCRIPT in body
    assert BANNER not in body


def test_an_adult_changes_the_choice_on_the_settings_page() -> None:
    adult = make_user()
    client = Client()
    client.force_login(adult)
    client.post(reverse("analytics:settings"), {"choice": "analytics"})

    response = client.post(reverse("analytics:settings"), {"choice": "essential"}, follow=True)

    assert "Your cookie choice has been saved." in response.content.decode()
    assert CookieConsent.objects.get(user=adult).choice == "essential"
    assert SCRIPT not in client.get("/privacy/").content.decode()


@pytest.mark.parametrize("bad", [{}, {"choice": "everything"}, {"choice": ""}])
def test_a_bad_choice_is_refused_with_a_message_and_changes_nothing(bad: dict[str, str]) -> None:
    adult = make_user()
    client = Client()
    client.force_login(adult)

    response = client.post(reverse("analytics:settings"), bad)

    assert response.status_code == 400
    assert "Please choose one of the options." in response.content.decode()
    assert CHOICE_COOKIE not in response.cookies
    assert not CookieConsent.objects.exists()


@pytest.mark.parametrize(
    ("role", "banner"),
    [
        ("anonymous", True),
        ("adult_at_the_age_gate", True),
        ("adult", True),
        ("child_at_the_age_gate", False),
        ("parental_child", False),
        ("school_child", False),
    ],
)
def test_the_banner_is_shown_only_to_those_who_may_opt_in(role: str, banner: bool) -> None:
    client = client_for(role)

    body = client.get("/privacy/").content.decode()

    assert (BANNER in body) is banner
    assert SCRIPT not in body


@pytest.mark.parametrize(
    ("role", "loaded", "banner"),
    [
        ("anonymous", True, False),
        ("adult_at_the_age_gate", True, False),
        ("adult", False, True),  # signed in: only their own stored choice counts, so they are asked
        ("child_at_the_age_gate", False, False),
        ("parental_child", False, False),
        ("school_child", False, False),
    ],
)
def test_a_forced_analytics_cookie_loads_the_script_for_anonymous_adults_only(
    role: str, loaded: bool, banner: bool
) -> None:
    client = client_for(role)
    client.cookies[CHOICE_COOKIE] = "analytics"

    body = client.get("/privacy/").content.decode()

    assert (SCRIPT in body) is loaded
    assert (BANNER in body) is banner


def test_on_a_shared_browser_each_signed_in_adult_decides_for_themselves() -> None:
    first, second = make_user(), make_user()
    browser = Client()
    browser.force_login(first)
    browser.post(reverse("analytics:settings"), {"choice": "analytics"})
    left_behind = browser.cookies[CHOICE_COOKIE].value
    browser.logout()  # (the test client forgets every cookie here; a real browser keeps this one)
    browser.cookies[CHOICE_COOKIE] = left_behind
    browser.force_login(second)

    body = browser.get("/privacy/").content.decode()

    assert browser.cookies[CHOICE_COOKIE].value == "analytics"
    assert BANNER in body
    assert SCRIPT not in body
    assert not CookieConsent.objects.filter(user=second).exists()


@pytest.mark.parametrize("role", ["parental_child", "school_child", "child_at_the_age_gate"])
def test_a_child_cannot_opt_in(role: str) -> None:
    client = client_for(role)

    response = client.post(reverse("analytics:settings"), {"choice": "analytics", "next": "/"})

    assert response.status_code == 403
    assert "Analytics are never used for this account" in response.content.decode()
    assert CHOICE_COOKIE not in response.cookies
    assert not CookieConsent.objects.exists()


def test_the_child_sign_up_and_consent_pages_show_no_banner_and_no_script() -> None:
    """The age gate, the child's sign-up, the "we emailed your parent" page and the parent's page."""
    ensure_loaded()
    adult = Client()
    adult.cookies[CHOICE_COOKIE] = "analytics"  # even an adult who opted in before
    child = Client()
    child.post(reverse("consent:age_gate"), gate_data(birth_date_for_age(9), "US"))
    child.cookies[CHOICE_COOKIE] = "analytics"
    sealed = consent_services.pending_signup_create(
        login="littleowl",
        password="kite-and-string-2016",
        parent_email="owl.parent@example.org",
        decision=age_gate.decide(birth_date=birth_date_for_age(9), country="US", today=timezone.localdate()),
    )
    pages = [
        (adult, reverse("consent:age_gate")),
        (child, reverse("consent:child_signup")),
        (child, reverse("consent:child_sent")),
        (adult, reverse("consent:parent", args=[sealed.public_id, sealed.key])),
    ]

    for client, url in pages:
        response = client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, url
        assert BANNER not in body, url
        assert SCRIPT not in body, url


def test_the_next_address_must_be_ours() -> None:
    response = Client().post(reverse("analytics:settings"), {"choice": "essential", "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:settings")


def test_the_settings_page_lists_every_cookie_with_purpose_lifetime_and_whether_essential() -> None:
    response = Client().get(reverse("analytics:settings"))

    body = response.content.decode()
    assert response.status_code == 200
    assert catalogue()  # the loop below checks something
    for cookie in catalogue():
        assert f"<code>{cookie.name}</code>" in body
        assert escape(str(cookie.purpose)) in body
        assert escape(str(cookie.lifetime)) in body
    assert {"sessionid", "csrftoken", "mindomo_age", "mindomo_consent_request", "mindomo_cookies"} <= CATALOGUE_NAMES
    assert "180 days" in body


def test_every_cookie_the_site_sets_along_the_journeys_is_listed() -> None:
    """Sign-up age gate, a child's sign-up, sign-in, a notice, a language switch, the cookie choice."""
    ensure_loaded()
    seen: set[str] = set()
    child = Client()
    seen |= set(child.post(reverse("consent:age_gate"), gate_data(birth_date_for_age(9), "US")).cookies)
    seen |= set(
        child.post(
            reverse("consent:child_signup"),
            {
                "login": "littlefox",
                "password1": "kite-and-string-2016",
                "password2": "kite-and-string-2016",
                "parent_email": "fox.parent@example.org",
            },
        ).cookies
    )
    adult = make_user()
    browser = Client()
    seen |= set(browser.get(reverse("account_login")).cookies)
    seen |= set(
        browser.post(reverse("account_login"), {"login": adult.username, "password": "correct-horse-battery-9"}).cookies
    )
    seen |= set(browser.post(reverse("analytics:settings"), {"choice": "essential"}).cookies)
    seen |= set(browser.post(reverse("set_language"), {"language": "fr", "next": "/"}).cookies)

    assert {"mindomo_age", "mindomo_consent_request", "sessionid", "csrftoken", "messages"} <= seen, seen
    assert seen <= CATALOGUE_NAMES


def test_the_settings_page_runs_constant_queries_for_a_signed_in_adult(django_assert_max_num_queries: Any) -> None:
    adult = make_user()
    client = Client()
    client.force_login(adult)
    client.get("/privacy/")  # the first page caches the account's status in the session

    with django_assert_max_num_queries(3):
        response = client.get(reverse("analytics:settings"))

    assert response.status_code == 200
