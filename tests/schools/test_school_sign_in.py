"""Signing in with the school's Google or Microsoft account, through allauth's providers against local fakes of
their endpoints: the right hd / tenant lands in the school account; a personal account or another domain never
does; nothing of the provider's profile is stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from schools import signin
from schools.models import RosteredPerson, SchoolDomain, SchoolMembership
from tests.accounts.factories import UserFactory
from tests.schools.conftest import (
    PROFILE_SECRETS,
    TENANT,
    SchoolWorld,
    nothing_of_the_provider_is_stored,
    school_domain,
    through_provider,
)
from tests.support.fake_oauth import FakeGoogle


def test_a_student_signs_in_with_the_schools_google_account(rostered: SchoolWorld, fake_google: FakeGoogle) -> None:
    school_domain(rostered, "google")
    fake_google.claims = {
        "sub": "1098",
        "hd": "school.example",
        "email": "mia@school.example",
        "email_verified": True,
        "given_name": "Mia",
        "family_name": "Khan",
        "picture": f"https://lh3.example/{PROFILE_SECRETS[0]}",
        "locale": PROFILE_SECRETS[1],
    }
    client = Client()
    response = through_provider(client, "mia@school.example", fake_google.url)

    assert response.status_code == 302
    assert response["Location"] == reverse("grading:index")
    mia = RosteredPerson.objects.get(school=rostered.school, sourced_id="stu-1").user
    assert client.session["_auth_user_id"] == str(mia.pk)
    assert fake_google.authorize_queries[-1]["hd"] == "school.example"  # the hosted-domain hint
    assert fake_google.authorize_queries[-1]["login_hint"] == "mia@school.example"
    mia.refresh_from_db()
    assert mia.email == ""  # a school account keeps no email of its own
    nothing_of_the_provider_is_stored()


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "mia@school.example", "email_verified": True},  # a personal account: no hd at all
        {"hd": "other.example", "email": "mia@school.example", "email_verified": True},  # another domain
        {"hd": "school.example", "email": "mia@school.example", "email_verified": False},
        {"hd": "school.example", "email": "mia@gmail.example", "email_verified": True},
    ],
)
def test_a_personal_or_foreign_google_account_never_lands_in_a_school_account(
    rostered: SchoolWorld, fake_google: FakeGoogle, claims: dict[str, Any]
) -> None:
    school_domain(rostered, "google")
    fake_google.claims = {"sub": "555", "picture": PROFILE_SECRETS[0], **claims}
    client = Client()
    response = through_provider(client, "mia@school.example", fake_google.url)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    nothing_of_the_provider_is_stored()


def test_a_teacher_signs_in_with_the_schools_microsoft_tenant(rostered: SchoolWorld, fake_microsoft: Any) -> None:
    school_domain(rostered, "microsoft")
    teacher = UserFactory(email="curie@school.example")
    SchoolMembership.objects.create(school=rostered.school, user=teacher, role="teacher")
    fake_microsoft.tenant = TENANT
    fake_microsoft.profile = {
        **fake_microsoft.profile,
        "mail": "Curie@school.example",
        "userPrincipalName": "curie@school.example",
        "jobTitle": PROFILE_SECRETS[2],
    }
    client = Client()
    response = through_provider(client, "curie@school.example", fake_microsoft.url)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(teacher.pk)
    nothing_of_the_provider_is_stored()


@pytest.mark.parametrize("tenant", ["", "11111111-2222-4333-8444-555555555555"])
def test_another_microsoft_tenant_is_refused(rostered: SchoolWorld, fake_microsoft: Any, tenant: str) -> None:
    school_domain(rostered, "microsoft")
    teacher = UserFactory(email="curie@school.example")
    SchoolMembership.objects.create(school=rostered.school, user=teacher, role="teacher")
    fake_microsoft.tenant = tenant
    fake_microsoft.profile = {**fake_microsoft.profile, "mail": "curie@school.example", "jobTitle": PROFILE_SECRETS[2]}
    client = Client()
    response = through_provider(client, "curie@school.example", fake_microsoft.url)
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    nothing_of_the_provider_is_stored()


def test_someone_of_the_domain_who_is_not_on_the_roster_is_signed_in_nowhere_and_may_ask_to_join(
    rostered: SchoolWorld, fake_google: FakeGoogle
) -> None:
    school_domain(rostered, "google")
    fake_google.claims = {"sub": "9", "hd": "school.example", "email": "nobody@school.example", "email_verified": True}
    client = Client()
    response = through_provider(client, "nobody@school.example", fake_google.url)
    assert response.status_code == 302
    assert response["Location"] == reverse("schools:join")  # tests/schools/test_teacher_join.py
    assert "_auth_user_id" not in client.session
    nothing_of_the_provider_is_stored()


def test_an_unverified_domain_offers_no_school_sign_in(rostered: SchoolWorld) -> None:
    school_domain(rostered, "google", verified=False)
    response = Client().post(reverse("schools:sign_in"), {"email": "mia@school.example"})
    assert response.status_code == 400
    assert "/accounts/google/login/" not in response.content.decode()


def test_an_administrator_verifies_the_domain_by_signing_in_with_it(
    rostered: SchoolWorld, fake_google: FakeGoogle
) -> None:
    domain = school_domain(rostered, "google", verified=False)
    client = rostered.client(rostered.admin)
    page = client.get(reverse("schools:domains", args=[rostered.school.pk]))
    assert signin.txt_value(domain) in page.content.decode()  # the DNS TXT value an operator checks
    response = client.post(reverse("schools:domains", args=[rostered.school.pk]), {"verify": str(domain.pk)})
    assert response.status_code == 302
    response = client.post(response["Location"], {"process": "login"})
    fake_google.claims = {"sub": "1", "hd": "school.example", "email": "it@school.example", "email_verified": True}
    provider_redirect = requests.get(response["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(provider_redirect.headers["Location"])
    response = client.get(f"{callback.path}?{callback.query}")
    assert response.status_code == 302
    domain.refresh_from_db()
    assert (domain.verified_how, domain.verified_at is not None) == ("sign_in", True)
    assert client.session["_auth_user_id"] == str(rostered.admin.pk)  # still the administrator
    nothing_of_the_provider_is_stored()


@pytest.mark.parametrize("role", ["teacher", "member"])
def test_only_the_schools_administrators_manage_its_domains(rostered: SchoolWorld, role: str) -> None:
    domain = school_domain(rostered, "google")
    other = UserFactory()
    if role == "teacher":
        SchoolMembership.objects.create(school=rostered.school, user=other, role="teacher")
    client = rostered.client(other)
    url = reverse("schools:domains", args=[rostered.school.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"domain": "evil.example", "provider": "google"}).status_code == 404
    assert client.post(url, {"remove": str(domain.pk)}).status_code == 404
    assert SchoolDomain.objects.count() == 1
    admin = rostered.client(rostered.admin)
    assert admin.post(url, {"remove": "x"}).status_code == 404  # no 500 from a bad id
    assert admin.post(url, {"domain": "second.example", "provider": "google"}).status_code == 302
    assert admin.post(url, {"domain": "third.example", "provider": "microsoft"}).status_code == 400  # no tenant


def test_the_sign_in_page_sends_the_domains_provider_hints(rostered: SchoolWorld, fake_google: FakeGoogle) -> None:
    school_domain(rostered, "google")
    page = Client().post(reverse("schools:sign_in"), {"email": "mia@school.example"}).content.decode()
    assert "/accounts/google/login/" in page
    action = page.split('action="', 2)[2].split('"', 1)[0].replace("&amp;", "&")
    hints = parse_qs(parse_qs(urlsplit(action).query)["auth_params"][0])
    assert hints == {"hd": ["school.example"], "login_hint": ["mia@school.example"]}


def test_an_operator_confirms_the_dns_value_in_the_admin(rostered: SchoolWorld, superuser_client: Client) -> None:
    domain = school_domain(rostered, "google", verified=False)
    changelist = reverse("admin:schools_schooldomain_changelist")
    assert signin.txt_value(domain) in superuser_client.get(changelist).content.decode()
    response = superuser_client.post(
        changelist, {"action": "confirm_dns", "_selected_action": [domain.pk]}, follow=True
    )
    assert response.status_code == 200
    domain.refresh_from_db()
    assert domain.verified_how == "dns"
    assert domain.verified_at is not None
