"""Sessions follow the account's state: stopping collection, deletion, a parent's new password for the child, a
staff suspension and a password change end every session of the account (found by user id, never by decoding
every session), and no later resume brings one back. Each test signs the account in on two browsers."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import User, UserSession
from tests.accounts.factories import PASSWORD, UserFactory
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child, signed_in_parent
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

PARENT = "parent.sessions@example.com"
NEW_PASSWORD = "another-Secret-horse-77"


def _browser(login: str, password: str = PASSWORD) -> Client:
    """A browser signed in the way people sign in: the login form."""
    client = Client()
    response = client.post(reverse("account_login"), {"login": login, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def _signed_in_as(client: Client) -> int | None:
    response = client.get(reverse("home"))
    user = response.wsgi_request.user
    return user.pk if user.is_authenticated else None


def test_a_sign_in_stores_the_session_under_the_user_id(member: User) -> None:
    anonymous = Client()
    anonymous.get(reverse("account_login"))  # a visitor's session (CSRF, forms) has no user
    browser = _browser(member.username)

    ours = UserSession.objects.filter(user_id=member.pk)
    assert ours.count() == 1
    assert ours.get().session_key == browser.cookies["sessionid"].value
    assert _signed_in_as(browser) == member.pk


def test_ending_the_sessions_of_an_account_is_one_delete_whatever_the_number_of_sessions(
    member: User, django_assert_num_queries: Any
) -> None:
    for _ in range(30):
        Client().force_login(UserFactory())
    a, b = _browser(member.username), _browser(member.email)
    total = UserSession.objects.count()

    with django_assert_num_queries(1):
        ended = services.user_sessions_end(user=member)

    assert ended == 2
    assert UserSession.objects.count() == total - 2
    assert _signed_in_as(a) is None
    assert _signed_in_as(b) is None


def test_stopping_collection_then_resuming_leaves_the_childs_old_sessions_signed_out(
    django_capture_on_commit_callbacks: Any,
) -> None:
    child = consented_child("sessions.kid", PARENT)
    laptop, tablet = _browser(child.username, CHILD_PASSWORD), _browser(child.username, CHILD_PASSWORD)
    assert _signed_in_as(laptop) == _signed_in_as(tablet) == child.pk
    parent = signed_in_parent(PARENT, django_capture_on_commit_callbacks)
    collection = reverse("consent:portal_suspend", args=[child.pk])

    assert parent.post(collection, {"action": "suspend"}).status_code == 302
    child.refresh_from_db()
    assert not child.is_active
    assert not UserSession.objects.filter(user_id=child.pk).exists()
    assert parent.post(collection, {"action": "resume"}).status_code == 302
    child.refresh_from_db()
    assert child.is_active

    # resumed, but the old sessions stay ended: the child signs in again with the password
    assert _signed_in_as(laptop) is None
    assert _signed_in_as(tablet) is None
    assert _signed_in_as(_browser(child.username, CHILD_PASSWORD)) == child.pk


def test_a_parent_setting_the_childs_password_ends_every_session_of_the_child(
    django_capture_on_commit_callbacks: Any,
) -> None:
    child = consented_child("sessions.kid2", PARENT)
    laptop, tablet = _browser(child.username, CHILD_PASSWORD), _browser(child.username, CHILD_PASSWORD)
    parent = signed_in_parent(PARENT, django_capture_on_commit_callbacks)

    response = parent.post(
        reverse("consent:portal_password", args=[child.pk]), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )

    assert response.status_code == 302
    # ended at once (not merely refused at the next request by Django's password hash check)
    assert not UserSession.objects.filter(user_id=child.pk).exists()
    assert _signed_in_as(laptop) is None
    assert _signed_in_as(tablet) is None
    assert _signed_in_as(_browser(child.username, NEW_PASSWORD)) == child.pk


def test_asking_for_deletion_ends_every_session_and_signing_in_again_revives_none(
    member: User, django_capture_on_commit_callbacks: Any
) -> None:
    laptop, phone = _browser(member.username), _browser(member.username)

    with django_capture_on_commit_callbacks(execute=True):
        response = laptop.post(reverse("accounts:account_delete"), {"password": PASSWORD, "understood": "on"})

    assert response.status_code == 302
    member.refresh_from_db()
    assert not member.is_active
    assert _signed_in_as(laptop) is None
    assert _signed_in_as(phone) is None
    # signing in during the grace period cancels the deletion, in that browser only
    again = _browser(member.username)
    member.refresh_from_db()
    assert member.is_active
    assert _signed_in_as(again) == member.pk
    assert _signed_in_as(phone) is None


def test_erasing_an_account_leaves_no_session_of_it(member: User, django_capture_on_commit_callbacks: Any) -> None:
    _browser(member.username)
    other = _browser(UserFactory().username)
    assert UserSession.objects.filter(user_id=member.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        services.account_erase_now(user=member, requested_by="privacy_officer", reason="test")

    assert not UserSession.objects.filter(user_id=member.pk).exists()
    assert not User.objects.filter(pk=member.pk).exists()
    assert _signed_in_as(other) is not None


def test_staff_deactivating_an_account_in_the_admin_ends_its_sessions_for_good(
    member: User, support_user: User
) -> None:
    laptop, phone = _browser(member.username), _browser(member.username)
    staff = sign_in(Client(), support_user)  # staff go through their second factor
    change = reverse("admin:accounts_user_change", args=[member.pk])
    form = {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "country": str(member.country),
    }

    assert staff.post(change, form).status_code == 302  # "active" unticked
    member.refresh_from_db()
    assert not member.is_active
    assert _signed_in_as(laptop) is None
    assert _signed_in_as(phone) is None
    assert staff.post(change, {**form, "is_active": "on"}).status_code == 302  # and active again
    member.refresh_from_db()
    assert member.is_active
    assert _signed_in_as(laptop) is None
    assert _signed_in_as(phone) is None
    assert _signed_in_as(staff) == support_user.pk


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(member: User) -> None:
    laptop, phone = _browser(member.username), _browser(member.username)

    response = laptop.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    # the phone's session is gone at once; the laptop's, re-keyed by Django, is the only one left
    assert list(UserSession.objects.filter(user_id=member.pk).values_list("session_key", flat=True)) == [
        laptop.cookies["sessionid"].value
    ]
    assert _signed_in_as(laptop) == member.pk
    assert _signed_in_as(phone) is None


def test_a_password_reset_by_email_link_ends_every_session(member: User) -> None:
    laptop, phone = _browser(member.username), _browser(member.username)
    stranger = Client()
    member.refresh_from_db()  # the token covers the last sign-in
    uidb36, token = user_pk_to_url_str(member), default_token_generator.make_token(member)

    opened = stranger.get(reverse("account_reset_password_from_key", kwargs={"uidb36": uidb36, "key": token}))
    assert opened.status_code == 302, opened.content.decode()[-3000:]
    response = stranger.post(opened["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert response.status_code == 302
    assert not UserSession.objects.filter(user_id=member.pk).exists()
    assert _signed_in_as(laptop) is None
    assert _signed_in_as(phone) is None
    assert _signed_in_as(_browser(member.username, NEW_PASSWORD)) == member.pk


def test_a_password_set_in_the_admin_ends_the_accounts_sessions(member: User, superuser: User) -> None:
    laptop = _browser(member.username)
    admin = sign_in(Client(), superuser)

    response = admin.post(
        reverse("admin:auth_user_password_change", args=[member.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302
    assert not UserSession.objects.filter(user_id=member.pk).exists()
    assert _signed_in_as(laptop) is None
    assert _signed_in_as(admin) == superuser.pk


def test_a_session_is_read_from_the_shared_cache_and_ending_it_removes_it_there_too(
    member: User, django_assert_num_queries: Any
) -> None:
    browser = _browser(member.username)
    _signed_in_as(browser)  # the session is in the cache now
    store = Client().session.__class__(browser.cookies["sessionid"].value)
    with django_assert_num_queries(0):
        assert store.load()  # from Redis: no query

    services.user_sessions_end(user=member)

    assert not UserSession.objects.filter(user_id=member.pk).exists()
    assert _signed_in_as(browser) is None  # not served from the cache either
