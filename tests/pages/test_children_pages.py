"""Children's pages minimise: no name asked, no purchase, email or connected-services items; a child whose parent
paused the account is told so kindly, with what to do."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from consent.models import ConsentRecord
from consent.portal import actions as portal
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child
from tests.support.roles import make_school_student

pytestmark = pytest.mark.django_db

MUM = "mum@example.org"


@pytest.fixture
def child() -> User:
    return consented_child("lina2016", MUM)


def _signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_childs_profile_asks_no_name_and_offers_no_email_change(child: User) -> None:
    html = _signed_in(child).get(reverse("accounts:profile")).content.decode()
    assert "lina2016" in html
    for absent in ('name="first_name"', 'name="last_name"', reverse("account_email"), "Change email"):
        assert absent not in html
    assert reverse("account_change_password") in html


def test_a_child_cannot_post_a_name_to_the_profile(child: User) -> None:
    response = _signed_in(child).post(reverse("accounts:profile"), {"first_name": "Lina", "last_name": "Doe"})
    child.refresh_from_db()
    assert response.status_code == 405
    assert (child.first_name, child.last_name) == ("", "")


def test_an_adults_profile_still_asks_the_name(member: User) -> None:
    html = _signed_in(member).get(reverse("accounts:profile")).content.decode()
    assert 'name="first_name"' in html
    assert reverse("account_email") in html


def test_a_childs_menu_has_no_purchase_email_or_connected_services(child: User) -> None:
    html = _signed_in(child).get(reverse("home")).content.decode()
    for key in ("plans", "invoices"):
        assert f'data-nav="{key}"' not in html
    for url in (reverse("account_email"), reverse("socialaccount_connections"), reverse("billing:plan_list")):
        assert f'href="{url}"' not in html
    assert 'data-nav="profile"' in html
    assert 'data-nav="sign_out"' in html


def test_a_paused_child_signing_in_is_told_a_parent_paused_the_account(child: User) -> None:
    record = ConsentRecord.objects.get(child=child)
    portal.portal_child_suspend(record=record, parent_email=MUM)
    response = Client().post(reverse("account_login"), {"login": "lina2016", "password": CHILD_PASSWORD})
    html = response.content.decode()
    assert response.status_code == 403
    assert "Your parent or guardian has paused your account" in html
    assert reverse("consent:portal") in html
    assert "Account Inactive" not in html


def test_another_inactive_account_gets_the_general_page(member: User, password: str) -> None:
    User.objects.filter(pk=member.pk).update(is_active=False)
    response = Client().post(reverse("account_login"), {"login": member.email, "password": password}, follow=True)
    html = response.content.decode()
    assert "This account cannot sign in right now" in html
    assert "paused your account" not in html


ADULT_ONLY = [
    "account_email",
    "socialaccount_connections",
]


@pytest.mark.parametrize("url_name", ADULT_ONLY)
def test_a_child_typing_an_adult_pages_address_lands_on_the_profile_with_a_word(child: User, url_name: str) -> None:
    client = _signed_in(child)
    response = client.get(reverse(url_name), follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:profile")
    assert "Your parent looks after this account" in response.content.decode()
    # a post (adding an address) is refused the same way and adds nothing
    client.post(reverse("account_email"), {"action_add": "", "email": "kid@example.org"})
    assert not child.emailaddress_set.exists()


@pytest.mark.parametrize("url_name", ADULT_ONLY)
def test_a_school_account_is_told_the_school_looks_after_it(url_name: str) -> None:
    student = make_school_student()
    response = _signed_in(student).get(reverse(url_name), follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:profile")
    assert "Your school looks after this account" in response.content.decode()


@pytest.mark.parametrize("url_name", ["account_email", "socialaccount_connections"])
def test_an_adult_still_reaches_those_pages(member: User, url_name: str) -> None:
    assert _signed_in(member).get(reverse(url_name)).status_code == 200
