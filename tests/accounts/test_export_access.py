"""Access matrix of the data subject rights pages over every role: each signed-in person reaches their own
export and deletion pages, visitors only the contact form; the actions change nothing for those denied."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AccountDeletionRequest, DataExport, User
from tests.accounts.factories import PASSWORD, UserFactory
from tests.billing.helpers import make_child, make_school_student
from tests.grading.factories import MembershipFactory
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

ROLES: dict[str, Callable[[], User | None]] = {
    "anonymous": lambda: None,
    "adult": lambda: UserFactory(),
    "child": lambda: make_child(email=""),
    "school_student": lambda: make_school_student(email=""),
    "teacher": lambda: MembershipFactory(role="teacher").user,
    "staff": lambda: UserFactory(is_staff=True, is_superuser=True),
}


def _client(role: str) -> tuple[Client, User | None]:
    user = ROLES[role]()
    client = Client()
    if user is not None:
        sign_in(client, user)
    return client, user


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["accounts:data_export", "accounts:account_delete", "accounts:support"])
def test_every_role_reaches_the_pages_it_may_see(role: str, name: str) -> None:
    client, user = _client(role)

    response = client.get(reverse(name))

    if user is None and name != "accounts:support":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("role", ROLES)
def test_who_may_ask_for_an_export(role: str) -> None:
    client, user = _client(role)

    response = client.post(reverse("accounts:data_export"))

    assert response.status_code == 302
    assert DataExport.objects.count() == (0 if user is None else 1)


@pytest.mark.parametrize("role", ROLES)
def test_who_may_delete_their_own_account(role: str) -> None:
    client, user = _client(role)

    client.post(reverse("accounts:account_delete"), {"password": PASSWORD, "understood": "on"})

    allowed = user is not None and not user.is_staff
    assert AccountDeletionRequest.objects.count() == (1 if allowed else 0)
    if user is not None:
        user.refresh_from_db()
        assert user.is_active is not allowed
