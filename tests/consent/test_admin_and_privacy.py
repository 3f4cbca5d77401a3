"""Privacy staff edit the age rules in the admin (as new versions); evidence is read-only; the privacy
registry exports and erases what consent keeps; the demo loader is idempotent."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import User
from consent import ledger, services
from consent.age_gate import decide
from consent.models import AgeDecision, AgeRule, ConsentRecord, LedgerEntry, PendingSignup
from mindomo.privacy import registry
from tests.consent.factories import ConsentRecordFactory, make_user
from tests.consent.helpers import child_signup
from tests.support import roles
from tests.support.dbscan import assert_erased
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db


def _client_for(role: str) -> Client:
    client = Client()
    if role == "anonymous":
        return client
    if role == "superuser":
        sign_in(client, roles.make_superuser())
    elif role == "privacy staff":  # staff with exactly the age rules' permissions (no staff role has only those)
        staff = roles.make_staff()
        staff.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="consent", codename__in=["view_agerule", "change_agerule"]
            )
        )
        sign_in(client, staff)
    elif role == "staff without permission":
        sign_in(client, roles.make_staff())
    else:
        client.force_login(roles.make("adult"))
    return client


ROLES = ["anonymous", "member", "staff without permission", "privacy staff", "superuser"]


@pytest.mark.parametrize("role", ROLES)
def test_who_may_revise_an_age_rule_in_the_admin(role: str) -> None:
    rule = AgeRule.objects.get(country="AT", superseded_at__isnull=True)
    url = reverse("admin:consent_agerule_change", args=[rule.pk])
    data = {
        "age": "15",
        "legal_source": "amended law",
        "effective_from": "2027-01-01",
        "needs_legal_review": "on",
    }

    response = _client_for(role).post(url, data)

    current = AgeRule.objects.get(country="AT", superseded_at__isnull=True)
    if role in {"privacy staff", "superuser"}:
        assert response.status_code == 302
        assert (current.age, current.version, current.needs_legal_review) == (15, 2, True)
        rule.refresh_from_db()
        assert rule.age == 14
        assert rule.superseded_at is not None
    else:
        assert response.status_code in {302, 403}
        if response.status_code == 302:
            assert "/admin/login/" in response["Location"]
        assert current.pk == rule.pk
        assert current.age == 14


def test_a_superseded_rule_cannot_be_edited_or_deleted(superuser_client: Client) -> None:
    rule = AgeRule.objects.get(country="FR", superseded_at__isnull=True)
    services.age_rule_revise(
        rule=rule, age=15, legal_source="same", effective_from=datetime.date(2026, 1, 1), needs_legal_review=False
    )

    response = superuser_client.post(
        reverse("admin:consent_agerule_change", args=[rule.pk]),
        {"age": "10", "legal_source": "x", "effective_from": "2026-01-01"},
    )

    assert response.status_code in {200, 403}
    rule.refresh_from_db()
    assert rule.age == 15
    assert (
        superuser_client.post(reverse("admin:consent_agerule_delete", args=[rule.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AgeRule.objects.filter(pk=rule.pk).exists()


def test_staff_add_a_rule_for_a_new_jurisdiction(superuser_client: Client) -> None:
    response = superuser_client.post(
        reverse("admin:consent_agerule_add"),
        {"country": "BR", "subdivision": "", "age": "12", "legal_source": "LGPD", "effective_from": "2020-09-18"},
    )
    assert response.status_code == 302
    assert AgeRule.objects.get(country="BR").age == 12


@pytest.mark.parametrize("model", ["consentrecord", "pendingsignup", "ledgerentry"])
def test_consent_evidence_is_read_only_even_for_superusers(
    superuser_client: Client, model: str, run_on_commit: Any
) -> None:
    record = ConsentRecord.objects.get(child=_child_with_parental_consent())
    ledger.record_event(kind="granted", record=record, actor="parent")
    child_signup(Client(), run_on_commit, login="kid.waiting")
    row = {
        "consentrecord": record,
        "pendingsignup": PendingSignup.objects.get(),
        "ledgerentry": LedgerEntry.objects.get(kind="granted"),
    }[model]
    before = model_to_dict(row)
    change = reverse(f"admin:consent_{model}_change", args=[row.pk])

    assert superuser_client.get(reverse(f"admin:consent_{model}_changelist")).status_code == 200
    assert superuser_client.get(change).status_code == 200  # staff may look
    assert superuser_client.get(reverse(f"admin:consent_{model}_add")).status_code == 403
    tampered = {key: "" if value is None else value for key, value in before.items()} | {"policy_version": "tampered"}
    assert superuser_client.post(change, tampered).status_code == 403
    assert (
        superuser_client.post(reverse(f"admin:consent_{model}_delete", args=[row.pk]), {"post": "yes"}).status_code
        == 403
    )
    bulk_delete = superuser_client.post(
        reverse(f"admin:consent_{model}_changelist"), {"action": "delete_selected", "_selected_action": [row.pk]}
    )
    assert bulk_delete.status_code in (200, 302)  # the action is not offered: nothing happens
    row.refresh_from_db()
    assert model_to_dict(row) == before


def test_the_admin_lists_of_consent_records_issue_a_constant_number_of_queries(
    superuser_client: Client, django_assert_max_num_queries: Any
) -> None:
    rule = AgeRule.objects.get(country="US", superseded_at__isnull=True)
    for n in range(15):
        child = make_user(email="")
        ConsentRecordFactory(child=child, parent_email=f"p{n}@example.org", rule=rule)
    with django_assert_max_num_queries(12):
        assert superuser_client.get(reverse("admin:consent_consentrecord_changelist")).status_code == 200


def test_the_follow_up_column_shows_when_it_went_out_even_after_the_outbox_row_is_purged(
    superuser_client: Client,
) -> None:
    from consent import emails
    from mindomo.outbox import services as outbox
    from mindomo.outbox.models import Delivery

    record = ConsentRecord.objects.get(child=_child_with_parental_consent())
    emails.send_consent_follow_up(record=record, due_at=timezone.now())
    changelist = reverse("admin:consent_consentrecord_changelist")
    assert "Pending" in superuser_client.get(changelist).content.decode()

    delivery = Delivery.objects.get(kind="consent.follow_up")
    assert outbox.delivery_send(delivery_id=delivery.pk) == "sent"
    record.refresh_from_db()
    assert record.follow_up_sent_at is not None
    Delivery.objects.filter(pk=delivery.pk).delete()  # what the retention engine does after 7 days

    page = superuser_client.get(changelist).content.decode()
    assert "sent " + date_format(timezone.localtime(record.follow_up_sent_at), "SHORT_DATETIME_FORMAT") in page


# --- privacy registry ---------------------------------------------------------------------------------
def _child_with_parental_consent() -> User:
    child = make_user(email="", username="kiddo")
    today = timezone.now().date()
    decision = decide(birth_date=today.replace(year=today.year - 9), country="US", today=today)
    services.age_decision_record(user=child, decision=decision)
    ConsentRecordFactory(child=child, parent_email="mum@example.org", rule_id=decision.rule_id)
    return child


def test_the_registry_declares_what_consent_keeps_and_never_a_birth_date() -> None:
    declared = {d.model: d for p, d in registry.declarations() if p.name == "consent"}
    assert set(declared) == {
        "consent.AgeDecision",
        "consent.PendingSignup",
        "consent.ConsentRecord",
        "consent.Guardian",
        "consent.ParentalControl",
        "consent.DisclosureConsent",
        "consent.SignedConsentForm",
        "consent.LedgerPseudonym",
        "consent.LedgerEntry",
    }
    assert not any("birth" in field for d in declared.values() for field in d.fields)


def test_export_gives_the_decision_and_the_consent_without_a_birth_date() -> None:
    child = _child_with_parental_consent()

    exported = registry.get("consent").export(child)

    assert exported["age_decision"]["outcome"] == "child"
    assert len(exported["age_decision"]["consent_month"]) == 7  # YYYY-MM only
    assert exported["consent"]["parent_email"] == "mum@example.org"


def test_erasing_a_child_removes_the_decision_and_the_consent_record(erase_now: Any) -> None:
    child = _child_with_parental_consent()
    assert AgeDecision.objects.filter(user=child).exists()
    assert ConsentRecord.objects.filter(child=child).exists()

    assert_erased(["mum@example.org"], lambda: erase_now(child))

    assert not AgeDecision.objects.filter(user=child).exists()
    assert not ConsentRecord.objects.filter(child=child).exists()


def test_the_demo_loader_is_idempotent() -> None:
    from consent import demo

    first = demo.load()
    second = demo.load()

    assert first == second
    assert first[0].login == "mia"
    child = User.objects.get(username="mia")
    assert ConsentRecord.objects.filter(child=child).count() == 1
    assert child.check_password(first[0].password)
