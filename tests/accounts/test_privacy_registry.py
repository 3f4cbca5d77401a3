from __future__ import annotations

import json
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount

from accounts.models import AccountDeletionRequest, User
from mindomo.privacy import DataCategory, PrivacyProvider, PrivacyRegistry, registry
from tests.accounts.factories import UserFactory
from tests.support.dbscan import assert_erased

pytestmark = pytest.mark.django_db


def test_accounts_declares_every_personal_field_of_the_user_model() -> None:
    declared = {d.model: set(d.fields) for p, d in registry.declarations() if p.name == "accounts"}
    personal = {"first_name", "last_name", "email", "username", "password", "country"}
    assert personal <= declared["accounts.User"]
    assert "socialaccount.SocialAccount" in declared
    assert "account.EmailAddress" in declared
    for _provider, declaration in registry.declarations():
        assert str(declaration.purpose)
        assert str(declaration.retention)


def test_export_holds_the_profile_emails_and_services_as_json() -> None:
    user = UserFactory(first_name="Zoë", country="FR")
    SocialAccount.objects.create(user=user, provider="google", uid="g-123")

    document = json.loads(json.dumps(registry.export_user(user)))

    accounts = document["accounts"]
    assert accounts["profile"]["first_name"] == "Zoë"
    assert accounts["profile"]["country"] == "FR"
    assert accounts["email_addresses"] == [{"email": user.email, "verified": True, "primary": True}]
    assert [s["provider"] for s in accounts["connected_services"]] == ["google"]
    assert "password" not in json.dumps(accounts)


def test_erasing_through_the_pipeline_removes_the_user_from_every_table(erase_now: Any) -> None:
    user = UserFactory(username="erase-me-7781", email="erase.me.7781@example.com", first_name="Quintessa")
    SocialAccount.objects.create(user=user, provider="google", uid="g-erase-7781")
    keep = UserFactory()

    deletion = assert_erased(
        ["erase-me-7781", "erase.me.7781@example.com", "Quintessa", "g-erase-7781"], lambda: erase_now(user)
    )

    assert deletion.state == AccountDeletionRequest.State.ERASED
    assert deletion.user_id is None
    assert not User.objects.filter(pk=user.pk).exists()
    assert User.objects.filter(pk=keep.pk).exists()


def test_the_registry_refuses_two_providers_with_one_name() -> None:
    local = PrivacyRegistry()

    class Demo(PrivacyProvider):
        name = "demo"

        def declarations(self) -> list[DataCategory]:
            return []

    local.register(Demo)
    with pytest.raises(ValueError, match="already registered"):
        local.register(Demo)


def test_the_accounts_provider_erases_last() -> None:
    assert registry.providers()[-1].name == "accounts"
