"""Sign-up through a social provider, end to end through allauth's OAuth2 flow against a local fake of
Microsoft's servers (authorize, token and Graph profile endpoints over real HTTP)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import UserFactory
from tests.consent.helpers import pass_age_gate

pytestmark = pytest.mark.django_db


def _authorize(client: Client, fake: Any, *, process: str = "login") -> Any:
    """Start at our site, let the (fake) provider authorize, come back to allauth's callback."""
    response = client.post(reverse("microsoft_login"), {"process": process})
    assert response.status_code == 302
    authorize_url = response["Location"]
    assert authorize_url.startswith(fake.url)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["scope"] == ["User.Read"]  # the smallest scope that gives name and email
    provider_redirect = requests.get(authorize_url, allow_redirects=False, timeout=5)
    callback = urlsplit(provider_redirect.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def test_a_new_user_signs_up_with_microsoft_and_keeps_only_name_and_email(client: Client, fake_microsoft: Any) -> None:
    response = _authorize(client, fake_microsoft)
    assert response.status_code == 302
    assert response["Location"] == reverse("socialaccount_signup")
    # The neutral age gate runs before the provider's sign-up form, then sends the adult back to it.
    response = client.get(reverse("socialaccount_signup"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("consent:age_gate"))
    response = pass_age_gate(client, age=40, country="FR", next_url=reverse("socialaccount_signup"))
    assert response["Location"] == reverse("socialaccount_signup")

    form_page = client.get(reverse("socialaccount_signup")).content.decode()
    assert 'value="Marie"' in form_page
    assert 'value="Curie"' in form_page
    response = client.post(
        reverse("socialaccount_signup"),
        {
            "first_name": "Marie",
            "last_name": "Curie",
            "email": "marie.curie@example.org",
            "country": "FR",
            "accept_policy": "on",
        },
    )

    assert response.status_code == 302
    user = User.objects.get()
    assert (user.first_name, user.last_name, user.email, user.country.code) == (
        "Marie",
        "Curie",
        "marie.curie@example.org",
        "FR",
    )
    assert not user.has_usable_password()
    account = SocialAccount.objects.get(user=user)
    assert (account.provider, account.uid) == ("microsoft", fake_microsoft.profile["id"])
    assert account.extra_data == {}
    assert SocialToken.objects.count() == 0
    assert fake_microsoft.requests == [
        "GET /common/oauth2/v2.0/authorize",
        "POST /common/oauth2/v2.0/token",
        "GET /v1.0/me",
    ]
    from tests.support.dbscan import tables_containing

    for leaked in ("Physicist", "+33 1 23", "Building 4", "fr-FR"):
        assert tables_containing(leaked) == {}, leaked


def test_a_returning_microsoft_user_logs_in_and_the_profile_is_still_not_stored(
    client: Client, fake_microsoft: Any
) -> None:
    user = UserFactory(email="marie.curie@example.org")
    SocialAccount.objects.create(user=user, provider="microsoft", uid=fake_microsoft.profile["id"])

    response = _authorize(client, fake_microsoft)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    assert SocialAccount.objects.get(user=user).extra_data == {}


def test_the_provider_is_hidden_when_not_configured(client: Client) -> None:
    html = client.get(reverse("account_login")).content.decode()
    assert "/accounts/microsoft/login/" not in html
    assert "/accounts/google/login/" not in html


def test_a_configured_provider_is_offered_on_sign_in(client: Client, fake_microsoft: Any) -> None:
    html = client.get(reverse("account_login")).content.decode()
    assert "/accounts/microsoft/login/" in html
    assert "/accounts/google/login/" not in html


def test_a_member_connects_microsoft_then_disconnects_it(
    member_client: Client, member: User, fake_microsoft: Any
) -> None:
    response = _authorize(member_client, fake_microsoft, process="connect")
    assert response.status_code == 302
    account = SocialAccount.objects.get(user=member)

    response = member_client.post(reverse("socialaccount_connections"), {"account": account.pk})

    assert response.status_code == 302
    assert not SocialAccount.objects.filter(user=member).exists()


def test_disconnecting_the_only_way_to_sign_in_is_refused_with_a_clear_message(client: Client, db: Any) -> None:
    user = UserFactory(password="!unusable", verified_email=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    account = SocialAccount.objects.create(user=user, provider="microsoft", uid="only-way-in")
    client.force_login(user)

    response = client.post(reverse("socialaccount_connections"), {"account": account.pk})

    assert response.status_code == 200
    assert "the only way you can sign in" in response.content.decode()
    assert SocialAccount.objects.filter(pk=account.pk).exists()


def test_disconnecting_is_allowed_when_another_connected_service_remains(client: Client, db: Any) -> None:
    """Neither provider is configured any more: the old links are still listed and can be removed."""
    user = UserFactory(password="!unusable")
    first = SocialAccount.objects.create(user=user, provider="microsoft", uid="m-1")
    SocialAccount.objects.create(user=user, provider="google", uid="g-1")
    client.force_login(user)

    page = client.get(reverse("socialaccount_connections")).content.decode()
    assert "Microsoft" in page
    assert "Google" in page
    response = client.post(reverse("socialaccount_connections"), {"account": first.pk})

    assert response.status_code == 302
    assert list(SocialAccount.objects.filter(user=user).values_list("provider", flat=True)) == ["google"]
