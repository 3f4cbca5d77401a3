"""The page-view endpoint: counts an opted-in adult's page view by URL pattern and day, refuses everyone else."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.cookies import CHOICE_COOKIE
from analytics.models import PageViewCount
from consent import services as consent_services
from schools.models import School, SchoolMembership
from tests.analytics.helpers import make_parental_child, make_school_child
from tests.consent.factories import make_user
from tests.consent.helpers import birth_date_for_age, gate_data, pass_age_gate
from tests.support.dbscan import tables_containing
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

ENDPOINT = "/cookies/pageview/"


def opted_in_client(*, user: Any = None) -> Client:
    client = Client()
    if user is not None:
        sign_in(client, user)
    client.cookies[CHOICE_COOKIE] = "analytics"
    return client


def counts() -> dict[tuple[str, str], int]:
    return {(row.path, row.day.isoformat()): row.count for row in PageViewCount.objects.all()}


def test_an_opted_in_visitors_page_view_is_counted_by_page_and_day() -> None:
    client = opted_in_client()

    first = client.post(ENDPOINT, {"path": "/privacy/"})
    second = client.post(ENDPOINT, {"path": "/privacy/"})

    assert (first.status_code, second.status_code) == (204, 204)
    assert counts() == {("/privacy/", timezone.now().date().isoformat()): 2}


def test_a_signed_in_adult_who_opted_in_is_counted_without_anything_about_them() -> None:
    adult = make_user(username="grace", email="grace@example.com")
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 UniqueAgent/42", REMOTE_ADDR="203.0.113.77")
    client.force_login(adult)
    client.post(reverse("analytics:settings"), {"choice": "analytics"})

    response = client.post(ENDPOINT, {"path": "/account/profile/"})

    assert response.status_code == 204
    assert PageViewCount.objects.get().count == 1
    assert set(PageViewCount.objects.values_list("path", flat=True)) == {"/account/profile/"}
    for needle in ("203.0.113.77", "UniqueAgent", str(adult.pk) + ",", "grace"):
        assert "analytics_pageviewcount" not in tables_containing(needle)


def test_a_page_with_an_identifier_in_its_address_is_counted_under_its_pattern() -> None:
    reference = uuid.uuid4()
    client = opted_in_client()

    response = client.post(ENDPOINT, {"path": f"/billing/orders/{reference}/pay/"})

    assert response.status_code == 204
    assert PageViewCount.objects.get().path == "/billing/orders/<uuid:reference>/pay/"
    assert tables_containing(str(reference)) == {}


@pytest.mark.parametrize(
    "role",
    ["no_choice", "rejected", "parental_child", "school_child", "child_at_the_age_gate", "child_waiting_for_parent"],
)
def test_the_endpoint_refuses_everyone_who_has_not_opted_in_or_is_a_child(role: str) -> None:
    client = Client()
    if role == "rejected":
        client.cookies[CHOICE_COOKIE] = "essential"
    elif role in {"parental_child", "school_child"}:
        child = make_parental_child() if role == "parental_child" else make_school_child()
        client = opted_in_client(user=child)  # the child forces the cookie
    elif role in {"child_at_the_age_gate", "child_waiting_for_parent"}:
        client.post(reverse("consent:age_gate"), gate_data(birth_date_for_age(9), "US"))
        if role == "child_waiting_for_parent":
            client.post(
                reverse("consent:child_signup"),
                {
                    "login": "smallfox",
                    "password1": "kite-and-string-2016",
                    "password2": "kite-and-string-2016",
                    "parent_email": "fox.parent@example.org",
                },
            )
            client.cookies.pop("mindomo_age")  # only the pending sign-up's cookie is left
            assert "mindomo_consent_request" in client.cookies
        client.cookies[CHOICE_COOKIE] = "analytics"

    response = client.post(ENDPOINT, {"path": "/privacy/"})

    assert response.status_code == 403
    assert response.json() == {"error": "Page views are counted only for adults who opted in."}
    assert not PageViewCount.objects.exists()


def test_an_adult_who_opted_in_at_the_age_gate_is_still_counted() -> None:
    client = Client()
    pass_age_gate(client, age=30, country="US")
    client.cookies[CHOICE_COOKIE] = "analytics"

    assert client.post(ENDPOINT, {"path": "/privacy/"}).status_code == 204


def test_the_endpoint_checks_the_account_afresh_not_the_sessions_copy() -> None:
    """An adult's account placed under a school's consent mid-session is refused at once."""
    pupil = make_user(email="")
    client = Client()
    client.force_login(pupil)  # signed in: the session holds "not a child"
    client.post(reverse("analytics:settings"), {"choice": "analytics"})
    assert client.post(ENDPOINT, {"path": "/privacy/"}).status_code == 204
    school = School.objects.create(name="Lincoln", country="US", contact_email="office@lincoln.example")
    teacher = make_user()
    SchoolMembership.objects.create(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)
    consent_services.consent_record_school(child=pupil, school=school, granted_by=teacher)

    response = client.post(ENDPOINT, {"path": "/privacy/"})

    assert response.status_code == 403
    assert PageViewCount.objects.get().count == 1


@pytest.mark.parametrize(
    "path",
    [
        "",
        "privacy/",
        "/no-such-page/",
        "/privacy/?q=1",
        "https://evil.example/privacy/",
        "//evil.example/privacy/",
        "/" + "a" * 300,
    ],
)
def test_a_path_that_is_not_one_of_our_pages_is_refused(path: str) -> None:
    response = opted_in_client().post(ENDPOINT, {"path": path})

    assert response.status_code == 400
    assert response.json() == {"error": "This is not a page of this site."}
    assert not PageViewCount.objects.exists()


def test_the_consent_pages_are_never_counted_even_for_an_adult_who_opted_in() -> None:
    response = opted_in_client().post(ENDPOINT, {"path": "/consent/child/"})

    assert response.status_code == 403
    assert not PageViewCount.objects.exists()


def test_the_endpoint_takes_only_posts_with_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    client.cookies[CHOICE_COOKIE] = "analytics"

    assert client.get(ENDPOINT).status_code == 405
    assert client.post(ENDPOINT, {"path": "/privacy/"}).status_code == 403
    assert not PageViewCount.objects.exists()


def test_a_page_of_a_signed_in_adult_costs_no_query_for_cookies_or_consent() -> None:
    adult = make_user()
    client = Client()
    client.force_login(adult)  # signing in worked the account's status out once
    client.post(reverse("analytics:settings"), {"choice": "analytics"})

    # The home page: nothing in its content reads either app, so any such query would be the banner's or the
    # status check's (the privacy policy page reads the age table and the third parties as its content).
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/").content.decode()

    assert "js/analytics.js" in body
    sql = " ".join(query["sql"] for query in queries.captured_queries)
    assert "analytics_" not in sql
    assert "consent_" not in sql


def test_the_admin_shows_the_counts_read_only(superuser_client: Client) -> None:
    PageViewCount.objects.create(path="/privacy/", day=timezone.now().date(), count=7)

    listing = superuser_client.get(reverse("admin:analytics_pageviewcount_changelist"))
    add = superuser_client.get(reverse("admin:analytics_pageviewcount_add"))

    assert listing.status_code == 200
    body = listing.content.decode()
    assert "/privacy/" in body
    assert '<td class="field-count">7</td>' in body
    assert add.status_code == 403


def test_the_counts_are_for_staff_only(member_client: Client) -> None:
    response = member_client.get(reverse("admin:analytics_pageviewcount_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_secret_link_key_in_the_address_is_never_stored() -> None:
    key = "MzQ:1tSecretKeyNeverStored-abc"
    response = opted_in_client().post(ENDPOINT, {"path": f"/accounts/confirm-email/{key}/"})

    assert response.status_code == 204
    assert "SecretKeyNeverStored" not in PageViewCount.objects.get().path
    assert tables_containing("SecretKeyNeverStored") == {}
