"""Access matrix of the data subject rights pages over every role: each signed-in person reaches their own
export and deletion pages, visitors only the contact form; the actions change nothing for those denied."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from accounts.models import AccountDeletionRequest, DataExport
from tests.accounts.factories import PASSWORD

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "adult", "child", "school_student", "teacher", "superuser"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["accounts:data_export", "accounts:account_delete", "accounts:support"])
def test_every_role_reaches_the_pages_it_may_see(role: str, name: str, client_as: Any) -> None:
    client, user = client_as(role)

    response = client.get(reverse(name))

    if user is None and name != "accounts:support":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_who_may_ask_for_an_export(role: str, client_as: Any) -> None:
    client, user = client_as(role)

    response = client.post(reverse("accounts:data_export"))

    assert response.status_code == 302
    assert DataExport.objects.count() == (0 if user is None else 1)


@pytest.mark.parametrize("role", ROLES)
def test_who_may_delete_their_own_account(role: str, client_as: Any) -> None:
    client, user = client_as(role)

    client.post(reverse("accounts:account_delete"), {"password": PASSWORD, "understood": "on"})

    allowed = user is not None and not user.is_staff
    assert AccountDeletionRequest.objects.count() == (1 if allowed else 0)
    if user is not None:
        user.refresh_from_db()
        assert user.is_active is not allowed
