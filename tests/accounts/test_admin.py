from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people() -> dict[str, object]:
    return {
        "fr": UserFactory(
            username="jdupont", first_name="Jeanne", last_name="Dupont", email="jd@example.fr", country="FR"
        ),
        "de": UserFactory(
            username="kmueller", first_name="Karl", last_name="Müller", email="km@example.de", country="DE"
        ),
        "inactive": UserFactory(username="gone", first_name="Inès", last_name="Absent", country="FR", is_active=False),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [("Dupont", {"jdupont"}), ("km@example.de", {"kmueller"}), ("kmue", {"kmueller"}), ("Inès", {"gone"})],
)
def test_staff_search_users_by_name_email_and_username(
    superuser_client: Client, people: dict[str, object], query: str, expected: set[str]
) -> None:
    response = superuser_client.get(reverse("admin:accounts_user_changelist"), {"q": query})
    assert response.status_code == 200
    found = {u.username for u in response.context["cl"].result_list}
    assert found == expected


def test_staff_filter_users_by_country_and_active_status(superuser_client: Client, people: dict[str, object]) -> None:
    url = reverse("admin:accounts_user_changelist")
    by_country = superuser_client.get(url, {"country": "FR"}).context["cl"].result_list
    assert {u.username for u in by_country} == {"jdupont", "gone"}
    inactive = superuser_client.get(url, {"is_active__exact": "0"}).context["cl"].result_list
    assert {u.username for u in inactive} == {"gone"}


def test_members_cannot_open_the_admin(member_client: Client) -> None:
    response = member_client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
