from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

VALID = {"first_name": "Augusta Ada", "last_name": "King", "country": "IE"}


def test_the_profile_shows_what_the_account_holds(member_client: Client, member: User) -> None:
    html = member_client.get(reverse("accounts:profile")).content.decode()
    assert member.username in html
    assert member.email in html
    assert 'value="Ada"' in html
    assert 'value="Lovelace"' in html
    assert '<option value="GB" selected>' in html
    assert 'name="product_updates"' in html
    assert "checked" not in html.split('name="product_updates"')[1][:40]


def test_a_member_corrects_names_and_country(member_client: Client, member: User) -> None:
    response = member_client.post(reverse("accounts:profile"), VALID)

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.country.code) == ("Augusta Ada", "King", "IE")
    assert member.product_updates is False


def test_product_updates_are_off_by_default_and_can_be_turned_on_and_off(member_client: Client, member: User) -> None:
    assert User.objects.get(pk=member.pk).product_updates is False
    member_client.post(reverse("accounts:profile"), {**VALID, "product_updates": "on"})
    assert User.objects.get(pk=member.pk).product_updates is True
    member_client.post(reverse("accounts:profile"), VALID)
    assert User.objects.get(pk=member.pk).product_updates is False


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "", "This field is required."),
        ("last_name", "x" * 200, "at most 150 characters"),
        ("last_name", "<img src=x onerror=alert(1)>", "letters, spaces, hyphens, apostrophes and dots only"),
        ("country", "ZZ", "Please choose a country from the list."),
    ],
)
def test_bad_profile_input_is_refused_and_changes_nothing(
    member_client: Client, member: User, field: str, value: str, message: str
) -> None:
    response = member_client.post(reverse("accounts:profile"), {**VALID, field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    member.refresh_from_db()
    assert (member.first_name, member.last_name, member.country.code) == ("Ada", "Lovelace", "GB")


def test_the_profile_needs_a_signed_in_user(client: Client) -> None:
    response = client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_member_edits_only_their_own_profile(client: Client, member: User) -> None:
    other = UserFactory(first_name="Other")
    client.force_login(other)
    client.post(reverse("accounts:profile"), {**VALID, "first_name": "Changed"})
    member.refresh_from_db()
    assert member.first_name == "Ada"
    assert User.objects.get(pk=other.pk).first_name == "Changed"


def test_profile_without_csrf_token_is_refused(member: User, db: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("accounts:profile"), VALID)
    assert response.status_code == 403
    member.refresh_from_db()
    assert member.first_name == "Ada"


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_the_profile_answers_other_methods_with_405(member_client: Client, method: str) -> None:
    assert getattr(member_client, method)(reverse("accounts:profile")).status_code == 405


def _school_student() -> User:
    from consent.services import consent_record_school
    from schools.models import School, SchoolMembership

    school = School.objects.create(name="Maple Grove", country="US", contact_email="office@maple.example")
    teacher = UserFactory()
    SchoolMembership.objects.create(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)
    student = UserFactory(email="", verified_email=False)
    SchoolMembership.objects.create(school=school, user=student, role=SchoolMembership.Role.STUDENT)
    consent_record_school(child=student, school=school, granted_by=teacher)
    return student


def test_school_accounts_are_not_offered_marketing_email_and_cannot_opt_in(client: Client) -> None:
    student = _school_student()
    client.force_login(student)

    html = client.get(reverse("accounts:profile")).content.decode()
    assert 'name="product_updates"' not in html
    assert 'name="first_name"' not in html
    before = student.first_name
    response = client.post(reverse("accounts:profile"), {**VALID, "product_updates": "on"})

    student.refresh_from_db()
    assert response.status_code == 405
    assert student.first_name == before
    assert student.product_updates is False


def test_school_accounts_cannot_link_a_social_service(client: Client, fake_microsoft: object) -> None:
    from allauth.socialaccount.models import SocialAccount

    student = _school_student()
    client.force_login(student)
    # the connected-services page itself leads a school account back to its profile
    assert client.get(reverse("socialaccount_connections"))["Location"] == reverse("accounts:profile")

    from urllib.parse import urlsplit

    import requests

    response = client.post(reverse("microsoft_login"), {"process": "connect"})
    provider_redirect = requests.get(response["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(provider_redirect.headers["Location"])
    response = client.get(f"{callback.path}?{callback.query}")

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:profile")
    assert not SocialAccount.objects.filter(user=student).exists()
    page = client.get(reverse("accounts:profile")).content.decode()
    assert "cannot be linked to other services" in page
