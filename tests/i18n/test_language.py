"""Which language a person reads: Accept-Language first, then the switcher's cookie, then the account's choice."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

LANGUAGE_NAMES = {"en": "English", "ro": "Română", "de": "Deutsch", "fr": "Français", "es": "Español"}


def test_five_languages_are_offered() -> None:
    assert [code for code, _name in settings.LANGUAGES] == ["en", "ro", "de", "fr", "es"]


@pytest.mark.parametrize("code", ["en", "ro", "de", "fr", "es"])
def test_first_visit_follows_accept_language_and_html_lang_says_so(code: str) -> None:
    response = Client(headers={"accept-language": f"{code},en;q=0.5"}).get(reverse("home"))
    assert response.status_code == 200
    assert f'<html lang="{code}">' in response.content.decode()
    assert response.headers["Content-Language"] == code


def test_unsupported_accept_language_falls_back_to_english() -> None:
    response = Client(headers={"accept-language": "ja"}).get(reverse("home"))
    assert '<html lang="en">' in response.content.decode()


def test_every_page_has_the_switcher_with_each_language_in_its_own_name() -> None:
    html = Client().get(reverse("account_login")).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    for code, name in LANGUAGE_NAMES.items():
        assert f'value="{code}" lang="{code}"' in html
        assert f">{name}</button>" in html


def test_switching_sets_the_cookie_and_the_next_page_is_in_that_language() -> None:
    client = Client(headers={"accept-language": "en"})
    response = client.post(reverse("set_language"), {"language": "de", "next": reverse("account_login")})
    assert response.status_code == 302
    assert response.url == reverse("account_login")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "de"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME]["max-age"] == settings.LANGUAGE_COOKIE_AGE
    assert '<html lang="de">' in client.get(reverse("account_login")).content.decode()


def test_switching_to_an_unknown_language_changes_nothing(member: User, member_client: Client) -> None:
    member.language = "fr"
    member.save(update_fields=["language"])
    member_client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    member.refresh_from_db()
    assert member.language == "fr"
    assert '<html lang="fr">' in member_client.get(reverse("home")).content.decode()


def test_the_switcher_refuses_get() -> None:
    assert Client().get(reverse("set_language"), {"language": "de"}).status_code == 405


def test_a_signed_in_persons_choice_is_stored_on_the_account(member: User, member_client: Client) -> None:
    member.language = "en"
    member.save(update_fields=["language"])
    member_client.post(reverse("set_language"), {"language": "ro", "next": "/"})
    member.refresh_from_db()
    assert member.language == "ro"


def test_the_stored_choice_wins_over_cookie_and_accept_language(member: User, password: str) -> None:
    member.language = "es"
    member.save(update_fields=["language"])
    other_device = Client(headers={"accept-language": "de"})
    other_device.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    other_device.force_login(member)
    response = other_device.get(reverse("accounts:profile"))
    assert '<html lang="es">' in response.content.decode()
    # the cookie follows the account, so the language stays after signing out on that device
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"


def test_a_person_who_never_chose_keeps_the_language_they_signed_in_with(member: User, password: str) -> None:
    member.language = ""
    member.save(update_fields=["language"])
    client = Client(headers={"accept-language": "fr"})
    client.post(reverse("account_login"), {"login": member.email, "password": password})
    member.refresh_from_db()
    assert member.language == "fr"
    assert '<html lang="fr">' in client.get(reverse("accounts:profile")).content.decode()


def test_the_stored_language_is_applied_at_sign_in(member: User, password: str) -> None:
    member.language = "de"
    member.save(update_fields=["language"])
    client = Client(headers={"accept-language": "en"})
    response = client.post(reverse("account_login"), {"login": member.email, "password": password}, follow=True)
    assert response.redirect_chain, response.content.decode()[:500]
    assert '<html lang="de">' in response.content.decode()


def test_the_language_adds_no_query_to_a_signed_in_page(
    member: User, member_client: Client, django_assert_max_num_queries: Any
) -> None:
    member_client.get(reverse("accounts:profile"))
    with django_assert_max_num_queries(20) as first:
        member_client.get(reverse("accounts:profile"))
    member.language = "ro"
    member.save(update_fields=["language"])
    with django_assert_max_num_queries(len(first.captured_queries)):
        member_client.get(reverse("accounts:profile"))
