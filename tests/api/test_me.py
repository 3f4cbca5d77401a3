"""Profile, self-service privacy and the cookie choice over the API, with an app client's session token."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import AccountDeletionRequest, DataExport, User
from analytics.models import CookieConsent
from tests.accounts.factories import UserFactory
from tests.api.helpers import app_login, call
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(db: Any) -> User:
    return UserFactory(first_name="Ada", last_name="Lovelace", country="GB", username="ada")


def test_the_token_reads_and_corrects_the_profile(client: Client, ada: User) -> None:
    token = app_login(client, "ada")
    auth = {"X-Session-Token": token}

    read = call(client, "get", "/api/v1/me/profile/", **auth)
    assert read.status_code == 200
    assert (read.json()["first_name"], read.json()["country"]) == ("Ada", "GB")

    body = {"first_name": "Augusta", "last_name": "King", "country": "FR", "product_updates": True}
    response = call(client, "put", "/api/v1/me/profile/", body, **auth)

    assert response.status_code == 200
    ada.refresh_from_db()
    assert (ada.first_name, ada.last_name, ada.country.code, ada.product_updates) == ("Augusta", "King", "FR", True)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"first_name": "<script>", "last_name": "K", "country": "FR"}, "first_name"),
        ({"first_name": "A", "last_name": "K", "country": "XX"}, "country"),
        ({"first_name": "A" * 400, "last_name": "K", "country": "FR"}, "first_name"),
        ({"first_name": "A", "last_name": "K", "country": "FR", "is_staff": True}, "is_staff"),
        ({"first_name": 7, "last_name": "K", "country": "FR"}, "first_name"),
        ({"last_name": "K", "country": "FR"}, "first_name"),
    ],
)
def test_bad_profile_input_changes_nothing(client: Client, ada: User, body: dict[str, Any], param: str) -> None:
    token = app_login(client, "ada")
    response = call(client, "put", "/api/v1/me/profile/", body, **{"X-Session-Token": token})
    assert response.status_code == 400
    assert param in {e["param"] for e in response.json()["errors"]}
    ada.refresh_from_db()
    assert (ada.first_name, ada.country.code, ada.is_staff) == ("Ada", "GB", False)


def test_a_nul_byte_in_a_json_body_is_refused_before_any_view(client: Client, ada: User) -> None:
    token = app_login(client, "ada")
    body = {"first_name": "A\u0000da", "last_name": "K", "country": "FR"}
    response = call(client, "put", "/api/v1/me/profile/", body, **{"X-Session-Token": token})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_text"
    ada.refresh_from_db()
    assert ada.first_name == "Ada"


def test_a_child_has_no_name_to_correct(client: Client) -> None:
    child = consented_child("kid", "parent@example.org")
    token = app_login(client, "kid", CHILD_PASSWORD)
    body = {"first_name": "Kid", "last_name": "K", "country": "FR"}
    response = call(client, "put", "/api/v1/me/profile/", body, **{"X-Session-Token": token})
    assert response.status_code == 403
    child.refresh_from_db()
    assert child.first_name == ""


def test_an_export_is_requested_followed_and_downloaded_by_its_owner_only(
    client: Client, ada: User, django_capture_on_commit_callbacks: Any
) -> None:
    token = app_login(client, "ada")
    auth = {"X-Session-Token": token}

    with django_capture_on_commit_callbacks(execute=True):
        created = call(client, "post", "/api/v1/me/exports/", **auth)
    assert created.status_code == 201
    export_id = created.json()["id"]
    status = call(client, "get", f"/api/v1/me/exports/{export_id}/", **auth).json()
    assert status["state"] == "ready"  # Celery runs eagerly in tests
    download = call(client, "get", status["download_url"], **auth)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    listed = call(client, "get", "/api/v1/me/exports/", **auth).json()
    assert [item["id"] for item in listed["items"]] == [export_id]

    other = Client()
    UserFactory(username="eve")
    eve = {"X-Session-Token": app_login(other, "eve")}
    assert call(other, "get", f"/api/v1/me/exports/{export_id}/", **eve).status_code == 404
    assert call(other, "get", f"/api/v1/me/exports/{export_id}/download/", **eve).status_code == 404
    assert call(other, "get", "/api/v1/me/exports/not-a-uuid/", **eve).status_code in (400, 404)


def test_deletion_needs_the_password_then_ends_every_token(client: Client, ada: User) -> None:
    token = app_login(client, "ada")
    auth = {"X-Session-Token": token}

    wrong = call(client, "post", "/api/v1/me/deletion/", {"password": "nope", "understood": True}, **auth)
    assert wrong.status_code == 400
    assert not AccountDeletionRequest.objects.exists()
    ada.refresh_from_db()
    assert ada.is_active

    from tests.api.helpers import PASSWORD

    done = call(client, "post", "/api/v1/me/deletion/", {"password": PASSWORD, "understood": True}, **auth)
    assert done.status_code == 202
    ada.refresh_from_db()
    assert not ada.is_active
    assert AccountDeletionRequest.objects.filter(user=ada).count() == 1
    assert call(client, "get", "/api/v1/me/profile/", **auth).status_code == 401


def test_the_cookie_choice_is_kept_for_adults_and_never_offered_to_children(client: Client, ada: User) -> None:
    auth = {"X-Session-Token": app_login(client, "ada")}
    assert call(client, "get", "/api/v1/me/cookies/", **auth).json() == {"offered": True, "choice": None}
    assert call(client, "put", "/api/v1/me/cookies/", {"choice": "analytics"}, **auth).status_code == 200
    assert CookieConsent.objects.get(user=ada).choice == "analytics"

    consented_child("kid", "parent@example.org")
    kid = {"X-Session-Token": app_login(client, "kid", CHILD_PASSWORD)}
    assert call(client, "get", "/api/v1/me/cookies/", **kid).json() == {"offered": False, "choice": None}
    assert call(client, "put", "/api/v1/me/cookies/", {"choice": "analytics"}, **kid).status_code == 403
    assert CookieConsent.objects.count() == 1


def test_logout_and_a_password_change_end_the_token(client: Client, ada: User) -> None:
    token = app_login(client, "ada")
    assert call(client, "delete", "/_allauth/app/v1/auth/session", **{"X-Session-Token": token}).status_code == 401
    assert call(client, "get", "/api/v1/me/profile/", **{"X-Session-Token": token}).status_code == 401

    token = app_login(client, "ada")
    other = app_login(Client(), "ada")
    from tests.api.helpers import PASSWORD

    changed = call(
        client,
        "post",
        "/_allauth/app/v1/account/password/change",
        {"current_password": PASSWORD, "new_password": "a-brand-new-secret-77"},
        **{"X-Session-Token": token},
    )
    assert changed.status_code == 200, changed.content
    assert call(Client(), "get", "/api/v1/me/profile/", **{"X-Session-Token": other}).status_code == 401


def test_the_browser_client_needs_csrf_for_writes(ada: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(ada)
    assert call(client, "get", "/api/v1/me/profile/").status_code == 200
    body = {"first_name": "Eve", "last_name": "K", "country": "FR"}
    assert call(client, "put", "/api/v1/me/profile/", body).status_code in (401, 403)
    ada.refresh_from_db()
    assert ada.first_name == "Ada"
    assert DataExport.objects.count() == 0


def test_after_a_material_policy_change_a_token_is_refused_until_the_policy_is_accepted(
    client: Client, ada: User
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from privacy import services as privacy_services
    from privacy.models import PolicyVersion

    token = {"X-Session-Token": app_login(client, "ada")}
    assert call(client, "get", "/api/v1/me/profile/", **token).status_code == 200
    version = PolicyVersion.objects.create(
        version="2026-api", effective_at=timezone.now() - timedelta(minutes=1), material=True, summary="Change."
    )
    privacy_services.policy_state_forget()

    refused = call(client, "get", "/api/v1/me/profile/", **token)
    assert (refused.status_code, refused.json()["errors"][0]["code"]) == (403, "policy_acceptance_required")

    privacy_services.policy_accept(user=ada, version=version)
    assert call(client, "get", "/api/v1/me/profile/", **token).status_code == 200
