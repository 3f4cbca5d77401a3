"""Sign-up, verification, log in, password reset and email change through the real allauth views."""

from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import identify_hasher
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import UserFactory
from tests.consent.helpers import pass_age_gate
from tests.support.clients import CommittingClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(db: Any, django_capture_on_commit_callbacks: Any) -> Client:
    """A browser that passed the neutral age gate as an adult in GB: every sign-up starts there. Each
    request commits (the outbox then sends allauth's emails), as in production."""
    client = CommittingClient(django_capture_on_commit_callbacks)
    pass_age_gate(client, age=30, country="GB")
    return client


@pytest.fixture
def member_client(member: User, django_capture_on_commit_callbacks: Any) -> Client:
    client = CommittingClient(django_capture_on_commit_callbacks)
    client.force_login(member)
    return client


SIGNUP = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "password1": "analytical-engine-1843",
    "password2": "analytical-engine-1843",
    "country": "GB",
    "accept_policy": "on",
}


def _link(body: str, path_fragment: str) -> str:
    match = re.search(r"https?://\S*" + re.escape(path_fragment) + r"\S*", body)
    assert match, body
    return match.group(0)


def test_signup_creates_an_unverified_account_with_name_and_country_and_sends_a_verification_email(
    client: Client,
) -> None:
    response = client.post(reverse("account_signup"), SIGNUP)

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="ada@example.com")
    assert (user.first_name, user.last_name, user.country.code) == ("Ada", "Lovelace", "GB")
    assert user.product_updates is False
    assert identify_hasher(user.password).algorithm == "argon2"
    assert EmailAddress.objects.get(user=user).verified is False
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]


def test_an_unverified_account_cannot_sign_in_until_the_email_link_is_confirmed(client: Client) -> None:
    client.post(reverse("account_signup"), SIGNUP)
    client.logout()
    response = client.post(reverse("account_login"), {"login": "ada@example.com", "password": SIGNUP["password1"]})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session

    link = _link(mail.outbox[-1].body, "/accounts/confirm-email/")
    assert client.get(link).status_code == 200  # GET shows a confirmation button, changes nothing
    assert EmailAddress.objects.get(email="ada@example.com").verified is False
    response = client.post(link)

    assert response.status_code == 302
    assert EmailAddress.objects.get(email="ada@example.com").verified is True
    assert client.session["_auth_user_id"] == str(User.objects.get(email="ada@example.com").pk)


@pytest.mark.parametrize("login_field", ["email", "EMAIL", "username"])
def test_members_log_in_with_their_email_in_any_case_or_their_username(
    client: Client, member: User, password: str, login_field: str
) -> None:
    login = {"email": member.email, "EMAIL": member.email.upper(), "username": member.username}[login_field]
    response = client.post(reverse("account_login"), {"login": login, "password": password})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_a_wrong_password_is_refused_with_a_message(client: Client, member: User) -> None:
    response = client.post(reverse("account_login"), {"login": member.email, "password": "not-it"})
    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_log_out_ends_the_session(member_client: Client) -> None:
    response = member_client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in member_client.session


def test_password_reset_by_emailed_link(client: Client, member: User) -> None:
    client.post(reverse("account_reset_password"), {"email": member.email.upper()})
    link = _link(mail.outbox[-1].body, "/accounts/password/reset/key/")
    response = client.get(link, follow=True)  # allauth moves the key into the session, then shows the form
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"password1": "a-brand-new-secret-7", "password2": "a-brand-new-secret-7"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("a-brand-new-secret-7")


def test_password_reset_for_an_unknown_address_reveals_nothing(client: Client, db: Any) -> None:
    response = client.post(reverse("account_reset_password"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")


def test_password_change(member_client: Client, member: User, password: str) -> None:
    response = member_client.post(
        reverse("account_change_password"),
        {"oldpassword": password, "password1": "another-long-secret-8", "password2": "another-long-secret-8"},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.check_password("another-long-secret-8")


def test_email_change_takes_effect_once_the_new_address_is_verified(member_client: Client, member: User) -> None:
    old_email = member.email
    response = member_client.post(reverse("account_email"), {"action_add": "", "email": "ada.new@example.com"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.email == old_email  # not before verification

    link = _link(mail.outbox[-1].body, "/accounts/confirm-email/")
    member_client.post(link)

    member.refresh_from_db()
    assert member.email == "ada.new@example.com"
    assert list(EmailAddress.objects.filter(user=member).values_list("email", flat=True)) == ["ada.new@example.com"]


def test_the_same_email_in_another_case_cannot_sign_up_twice_and_the_owner_is_told(
    client: Client, member: User
) -> None:
    """No second account; the page does not reveal that the address is known (no enumeration), and the
    address's owner gets an email saying an account already exists and how to reset the password."""
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": member.email.upper()})

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.count() == 1
    assert EmailAddress.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [member.email]
    assert "already" in mail.outbox[0].body
    assert "/accounts/password/reset/" in mail.outbox[0].body


def test_the_database_refuses_a_duplicate_email_in_another_case(db: Any) -> None:
    from django.db import IntegrityError

    UserFactory(email="Same@Example.com")
    with pytest.raises(IntegrityError):
        UserFactory(email="same@example.COM")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "A" * 151, "at most 150 characters"),
        ("last_name", "<script>alert(1)</script>", "letters, spaces, hyphens, apostrophes and dots only"),
        ("first_name", '<b onmouseover="x">Ada</b>', "letters, spaces, hyphens, apostrophes and dots only"),
        ("first_name", "   ", "This field is required."),
        ("email", "not-an-email", "Enter a valid email address."),
    ],
)
def test_bad_signup_input_gets_a_clear_error_and_writes_nothing(
    client: Client, field: str, value: str, message: str
) -> None:
    response = client.post(reverse("account_signup"), {**SIGNUP, field: value})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.count() == 0
    assert EmailAddress.objects.count() == 0
    assert len(mail.outbox) == 0


def test_names_with_accents_apostrophes_and_hyphens_are_accepted(client: Client) -> None:
    response = client.post(
        reverse("account_signup"), {**SIGNUP, "first_name": "Zoë-Anne", "last_name": "O’Brien d'Arc"}
    )
    assert response.status_code == 302
    assert User.objects.get().get_full_name() == "Zoë-Anne O’Brien d'Arc"


def test_signup_without_a_csrf_token_is_refused_and_writes_nothing(db: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("account_signup"), SIGNUP)

    assert response.status_code == 403
    assert User.objects.count() == 0


def test_signup_form_asks_for_names_email_password_after_the_gate_asked_the_country(client: Client) -> None:
    html = client.get(reverse("account_signup")).content.decode()
    for name in ("first_name", "last_name", "email", "password1", "password2"):
        assert f'name="{name}"' in html
    assert 'name="country"' not in html  # asked once, by the age gate, before any other personal data
    assert 'name="birth' not in html  # no birth date is ever stored on the user
