"""The contact form: anonymous and signed-in visitors, bad input, the rate limit, retention, privacy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import SupportInquiry, User
from mindomo.privacy import registry
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db

SUPPORT = reverse("accounts:support")
MESSAGE = {"name": "Grace Hopper", "email": "grace@example.org", "topic": "privacy", "message": "What do you keep?"}


def test_an_anonymous_visitor_sends_a_message(client: Client) -> None:
    page = client.get(SUPPORT).content.decode()
    assert "delete it 180 days after we receive it" in page

    response = client.post(SUPPORT, MESSAGE, follow=True)

    assert "We received your message" in response.content.decode()
    inquiry = SupportInquiry.objects.get()
    assert (inquiry.user, inquiry.email, inquiry.topic) == (None, "grace@example.org", "privacy")


def test_a_signed_in_member_finds_the_form_filled_and_the_message_linked(member: User, member_client: Client) -> None:
    page = member_client.get(SUPPORT).content.decode()
    assert f'value="{member.email}"' in page
    assert 'value="Ada Lovelace"' in page

    member_client.post(SUPPORT, {**MESSAGE, "name": "Ada Lovelace", "email": member.email})

    assert SupportInquiry.objects.get().user == member


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("email", "not-an-email", "Enter a valid email address."),
        ("topic", "marketing", "Select a valid choice."),
        ("message", "", "This field is required."),
        ("message", "x" * 5001, "Ensure this value has at most 5000 characters"),
    ],
)
def test_bad_input_shows_the_error_and_keeps_nothing(client: Client, field: str, value: str, error: str) -> None:
    response = client.post(SUPPORT, {**MESSAGE, field: value})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not SupportInquiry.objects.exists()


def test_too_many_messages_from_one_address_are_refused(client: Client, settings: Any) -> None:
    settings.SUPPORT_INQUIRIES_PER_HOUR = 3
    for _i in range(3):
        assert client.post(SUPPORT, MESSAGE).status_code == 302

    response = client.post(SUPPORT, MESSAGE)

    assert response.status_code == 200
    assert "Please wait a little before writing again." in response.content.decode()
    assert SupportInquiry.objects.count() == 3


def test_inquiries_past_the_retention_period_are_purged_in_batches() -> None:
    old = [
        SupportInquiry.objects.create(name="Old", email=f"old{i}@example.org", topic="other", message="m")
        for i in range(5)
    ]
    recent = SupportInquiry.objects.create(name="New", email="new@example.org", topic="other", message="m")
    SupportInquiry.objects.filter(pk__in=[i.pk for i in old]).update(created_at=timezone.now() - timedelta(days=181))

    assert services.support_inquiries_purge(batch_size=2) == 5

    assert list(SupportInquiry.objects.values_list("pk", flat=True)) == [recent.pk]
    assert services.support_inquiries_purge() == 0


def test_the_support_provider_exports_and_erases_messages_by_account_or_address() -> None:
    user = UserFactory(email="linus@example.org")
    SupportInquiry.objects.create(user=user, name="L", email="other@example.org", topic="account", message="one")
    SupportInquiry.objects.create(name="L", email="LINUS@example.org", topic="billing", message="two")
    someone_else = SupportInquiry.objects.create(name="S", email="s@example.org", topic="other", message="three")
    provider = registry.get("support")

    assert [i["message"] for i in provider.export(user)["inquiries"]] == ["one", "two"]
    provider.erase(user)

    assert list(SupportInquiry.objects.values_list("pk", flat=True)) == [someone_else.pk]


def test_the_retention_engine_purges_old_inquiries_as_its_dry_run_says() -> None:
    from privacy.services import retention_apply

    old = SupportInquiry.objects.create(name="Old", email="old@example.org", topic="other", message="m")
    SupportInquiry.objects.create(name="New", email="new@example.org", topic="other", message="m")
    SupportInquiry.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=181))

    [dry] = retention_apply(dry_run=True, rules=["accounts.support_inquiries"])
    [real] = retention_apply(rules=["accounts.support_inquiries"])

    assert dry.pks == [old.pk]
    assert real.count == 1
    assert list(SupportInquiry.objects.values_list("name", flat=True)) == ["New"]
