from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from privacy import services
from privacy.models import PolicyAcceptance, PolicyVersion
from tests.accounts.factories import UserFactory
from tests.consent.factories import ConsentRecordFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def material_change(db: Any) -> PolicyVersion:
    version = PolicyVersion.objects.create(
        version="2026-11-01",
        effective_at=timezone.now() - timedelta(minutes=1),
        material=True,
        summary="Backups move to a new data centre in Germany.",
    )
    services.policy_publish(version=version)
    return version


def test_a_member_who_accepted_the_first_policy_is_not_asked_again_for_a_minor_change(
    member_client: Client, member: User
) -> None:
    services.policy_accept(user=member)
    PolicyVersion.objects.create(
        version="2026-minor", effective_at=timezone.now() - timedelta(minutes=1), material=False
    )
    assert member_client.get(reverse("accounts:profile")).status_code == 200


def test_after_a_material_change_members_accept_again_at_their_next_visit(
    member_client: Client, member: User, material_change: PolicyVersion
) -> None:
    services.policy_accept(user=member, version=PolicyVersion.objects.get(version="2018-05-24"))

    response = member_client.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("privacy:policy_accept"))

    page = member_client.get(response["Location"]).content.decode()
    assert "Backups move to a new data centre in Germany." in page
    refused = member_client.post(reverse("privacy:policy_accept"), {"next": "/account/profile/"})
    assert refused.status_code == 200
    assert "Please tick the box" in refused.content.decode()
    assert not PolicyAcceptance.objects.filter(user=member, version=material_change).exists()

    accepted = member_client.post(reverse("privacy:policy_accept"), {"accept": "on", "next": "/account/profile/"})
    assert accepted.status_code == 302
    assert accepted["Location"] == "/account/profile/"
    assert PolicyAcceptance.objects.filter(user=member, version=material_change, by_guardian=False).exists()
    assert member_client.get(reverse("accounts:profile")).status_code == 200


def test_the_accept_page_never_redirects_to_another_site(member_client: Client, material_change: PolicyVersion) -> None:
    response = member_client.post(reverse("privacy:policy_accept"), {"accept": "on", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_signing_out_and_the_policy_itself_stay_reachable_before_accepting(
    member_client: Client, material_change: PolicyVersion
) -> None:
    assert member_client.get(reverse("privacy_policy")).status_code == 200
    assert member_client.post(reverse("account_logout")).status_code == 302


def _child_with_parent(parent_email: str) -> User:
    child = UserFactory(email="", verified_email=False)
    ConsentRecordFactory(child=child, parent_email=parent_email)
    return child


def test_after_a_material_change_parents_are_asked_to_consent_again_once_each(
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = _child_with_parent("parent@example.com")
    second = _child_with_parent("parent@example.com")
    _child_with_parent("other.parent@example.com")
    version = PolicyVersion.objects.create(
        version="2026-12", effective_at=timezone.now(), material=True, summary="A new integral service provider."
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.policy_publish(version=version)

    assert sorted(m.to[0] for m in mail.outbox) == ["other.parent@example.com", "parent@example.com"]
    letter = next(m for m in mail.outbox if m.to == ["parent@example.com"])
    assert "2 children" in letter.body
    assert "A new integral service provider." in letter.body
    link = re.search(r"http\S+/privacy/policy-consent/\S+/", letter.body)
    assert link

    client = Client()
    page = client.get(link.group(0))  # GET (a mail scanner) changes nothing
    assert page.status_code == 200
    assert first.username in page.content.decode()
    assert not PolicyAcceptance.objects.filter(version=version).exists()
    client.post(link.group(0), {"confirm": "yes"})
    client.post(link.group(0), {"confirm": "yes"})  # a double submit adds nothing
    assert set(
        PolicyAcceptance.objects.filter(version=version).values_list("user_id", "version_id", "by_guardian")
    ) == {
        (first.pk, version.pk, True),
        (second.pk, version.pk, True),
    }


def test_a_tampered_reconsent_link_is_refused_and_changes_nothing(client: Client, db: Any) -> None:
    _child_with_parent("parent@example.com")
    version = PolicyVersion.objects.create(version="2026-12", effective_at=timezone.now(), material=True)
    token = signing.dumps({"e": "parent@example.com", "v": version.pk}, salt=services.RECONSENT_SALT)
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    response = client.post(reverse("privacy:policy_reconsent", kwargs={"token": forged}), {"confirm": "yes"})

    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert not PolicyAcceptance.objects.filter(version=version).exists()


def test_an_expired_reconsent_link_is_refused(client: Client, db: Any, settings: Any) -> None:
    _child_with_parent("parent@example.com")
    version = PolicyVersion.objects.create(version="2026-12", effective_at=timezone.now(), material=True)
    old = timezone.now() - timedelta(seconds=services.RECONSENT_MAX_AGE + 60)
    with mock.patch("time.time", return_value=old.timestamp()):
        token = signing.dumps({"e": "parent@example.com", "v": version.pk}, salt=services.RECONSENT_SALT)
    # a live link of the same kind works: only the age makes the difference
    fresh = signing.dumps({"e": "parent@example.com", "v": version.pk}, salt=services.RECONSENT_SALT)
    assert (
        client.get(reverse("privacy:policy_reconsent", kwargs={"token": fresh})).status_code == 200
    )  # a live link works

    response = client.get(reverse("privacy:policy_reconsent", kwargs={"token": token}))
    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_children_under_parental_consent_are_not_asked_to_accept_themselves(material_change: PolicyVersion) -> None:
    child = _child_with_parent("parent@example.com")
    client = Client()
    client.force_login(child)
    # a member would be sent to accept first (test above); a child's parent consents for them
    assert client.get(reverse("accounts:profile")).status_code == 200
