"""``User.objects.get(pk=...)``, asked on every signed-in request by the authentication backend, read through a
statement compiled once per process (accounts.models.UserManager.get): the ORM's instance, or DoesNotExist, and
nothing else changed."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models.query import QuerySet
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from mindomo import statements
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _columns(user: User) -> list[Any]:
    return [getattr(user, field.attname) for field in User._meta.concrete_fields]


def test_a_user_by_id_is_the_orms_instance_read_through_the_compiled_statement() -> None:
    statements.forget()
    first = UserFactory(first_name="Zoë", last_name="O'Brien", country="FR", language="fr", product_updates=True)
    first.last_login = timezone.now() - datetime.timedelta(days=2)
    first.save()
    second = UserFactory()
    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        for user in (first, second, first):
            read = User.objects.get(pk=user.pk)
            expected: User = QuerySet(User).get(pk=user.pk)  # the ORM's read
            assert _columns(read) == _columns(expected)
            assert (read._state.db, read._state.adding) == (expected._state.db, expected._state.adding)
            assert read.country.code == expected.country.code
    compiled = [sql for sql, params in sent[::2]]
    assert [params for _sql, params in sent[::2]] == [None, None, None]  # the id written into the compiled text
    assert f'"accounts_user"."id" = {second.pk}' in compiled[1]
    with pytest.raises(User.DoesNotExist, match=r"^User matching query does not exist\.$"):
        User.objects.get(pk=second.pk + 1000)


def test_other_lookups_and_a_relations_manager_go_to_the_orm() -> None:
    member, outsider = UserFactory(), UserFactory()
    group = Group.objects.create(name="g")
    group.user_set.add(member)
    assert group.user_set.get(pk=member.pk) == member
    with pytest.raises(User.DoesNotExist):
        group.user_set.get(pk=outsider.pk)  # the relation's filter holds
    assert User.objects.get(pk=str(member.pk)) == member
    assert User.objects.get(username=member.username) == member
    with pytest.raises(User.DoesNotExist):
        User.objects.get(pk=2**70)  # beyond a bigint: the ORM's read, no row


def test_a_signed_in_page_reads_its_user_and_a_suspended_account_is_signed_out(client: Client) -> None:
    user = UserFactory()
    client.force_login(user)
    url = reverse("accounts:profile")
    assert client.get(url).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = client.get(url)
    assert response.status_code == 302  # to the sign-in page: the user read again, inactive
