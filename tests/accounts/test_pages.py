from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

# Sign-up starts at the neutral age gate (consent), which then shows the sign-up form to adults.
PUBLIC_PAGES = ["home", "privacy_policy", "account_login", "consent:age_gate", "account_reset_password"]


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_public_pages_need_no_login_and_load_nothing_from_other_hosts(client: Client, name: str) -> None:
    response = client.get(reverse(name))

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html
    external = re.findall(r'(?:src|href)="((?:https?:)?//[^"]+)"', html)
    assert external == []


def test_the_privacy_policy_page_renders_the_policy_text(client: Client) -> None:
    html = client.get(reverse("privacy_policy")).content.decode()
    for heading in ("What we collect and why", "Children", "Parents' rights", "Security", "Cookies and analytics"):
        assert heading in html
    assert "Last updated: Nov. 30, 2026." in html
    assert "{%" not in html
    assert "{{" not in html


def test_pages_are_translated_by_the_browser_language(client: Client) -> None:
    html = client.get(reverse("home"), headers={"accept-language": "fr"}).content.decode()
    assert '<html lang="fr">' in html


def test_a_signed_in_member_finds_the_sign_in_settings_on_the_profile(member_client: Client) -> None:
    html = member_client.get(reverse("accounts:profile")).content.decode()
    for name in ("accounts:profile", "account_email", "account_change_password", "socialaccount_connections"):
        assert f'href="{reverse(name)}"' in html


def test_static_assets_are_served_locally(client: Client) -> None:
    html = client.get(reverse("home")).content.decode()
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert stylesheet
    assert stylesheet.group(1).startswith("/static/")


def test_the_policy_page_shows_the_version_in_force_with_its_own_text(client: Client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from privacy.models import PolicyVersion

    PolicyVersion.objects.create(
        version="2030-test",
        effective_at=timezone.now() - timedelta(minutes=1),
        template_name="privacy/link_invalid.html",
    )
    PolicyVersion.objects.create(version="future", effective_at=timezone.now() + timedelta(days=30))

    html = client.get(reverse("privacy_policy")).content.decode()

    assert "This link cannot be used" in html  # the in-force version's template, not the default text
    assert "What we collect and why" not in html


def test_the_policy_page_names_its_version_and_links_to_retention_and_cookies(client: Client) -> None:
    html = client.get(reverse("privacy_policy")).content.decode()
    assert "Version 2026-11-30." in html
    assert f'href="{reverse("privacy:retention")}"' in html
