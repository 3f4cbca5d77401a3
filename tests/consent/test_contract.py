"""The functions other apps call: school consent, the child/school selectors and billing's purchase rule."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from consent import ledger, selectors, services
from consent.age_gate import decide
from consent.models import ConsentMethod, ConsentRecord, LedgerEntry
from schools.models import School, SchoolMembership
from tests.consent.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def school() -> School:
    return School.objects.create(name="Lincoln Elementary", country="US", contact_email="office@lincoln.example")


@pytest.fixture
def teacher(school: School) -> User:
    user = make_user()
    SchoolMembership.objects.create(school=school, user=user, role=SchoolMembership.Role.TEACHER)
    return user


def test_a_school_records_consent_for_a_child_limited_to_education(school: School, teacher: User) -> None:
    child = make_user(email="")

    record = services.consent_record_school(child=child, school=school, granted_by=teacher)

    stored = ConsentRecord.objects.get(child=child)
    assert stored.pk == record.pk
    assert (stored.method, stored.school_id, stored.granted_by_id) == (ConsentMethod.SCHOOL, school.pk, teacher.pk)
    assert stored.policy_version == "2026-11-30"
    assert stored.granted_at is not None
    assert stored.parent_email == ""
    assert stored.rule_id is None
    assert selectors.consent_for_child(child=child) == stored
    assert selectors.is_school_consented(child) is True
    assert selectors.user_may_purchase(child) is False
    [entry] = LedgerEntry.objects.filter(subject=ledger.child_pseudonym(child.pk))
    assert (entry.kind, entry.method, entry.actor, entry.detail) == (
        "granted",
        "school",
        "school",
        {"school": school.pk},
    )


def test_recording_school_consent_twice_for_the_same_school_is_idempotent(school: School, teacher: User) -> None:
    child = make_user(email="")
    first = services.consent_record_school(child=child, school=school, granted_by=teacher)
    second = services.consent_record_school(child=child, school=school, granted_by=teacher)
    assert first.pk == second.pk
    assert ConsentRecord.objects.filter(child=child).count() == 1


@pytest.mark.parametrize("role", ["student", "outsider"])
def test_only_school_staff_can_record_school_consent(school: School, role: str) -> None:
    child = make_user(email="")
    actor = make_user()
    if role == "student":
        SchoolMembership.objects.create(school=school, user=actor, role=SchoolMembership.Role.STUDENT)

    with pytest.raises(ValidationError) as excinfo:
        services.consent_record_school(child=child, school=school, granted_by=actor)

    assert excinfo.value.code == "not_school_staff"
    assert not ConsentRecord.objects.exists()


def test_another_school_cannot_overwrite_an_existing_consent(school: School, teacher: User) -> None:
    child = make_user(email="")
    services.consent_record_school(child=child, school=school, granted_by=teacher)
    other = School.objects.create(name="Other", country="US", contact_email="o@example.org")
    admin = make_user()
    SchoolMembership.objects.create(school=other, user=admin, role=SchoolMembership.Role.ADMIN)

    with pytest.raises(ValidationError):
        services.consent_record_school(child=child, school=other, granted_by=admin)

    assert ConsentRecord.objects.get(child=child).school_id == school.pk


def test_an_adult_member_may_purchase_and_is_neither_child_nor_school_consented(member: User) -> None:
    assert selectors.consent_for_child(child=member) is None
    assert selectors.is_child_account(member) is False
    assert selectors.is_school_consented(member) is False
    assert selectors.user_may_purchase(member) is True


def test_an_account_whose_age_decision_says_child_may_not_purchase(member: User) -> None:
    today = timezone.localdate()
    decision = decide(birth_date=today.replace(year=today.year - 10), country="US", today=today)
    services.age_decision_record(user=member, decision=decision)

    assert selectors.is_child_account(member) is True
    assert selectors.user_may_purchase(member) is False


def test_anonymous_visitors_may_not_purchase() -> None:
    from django.contrib.auth.models import AnonymousUser

    assert selectors.user_may_purchase(AnonymousUser()) is False
    assert selectors.is_child_account(AnonymousUser()) is False


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"method": "email_plus", "parent_email": ""}, "consent_record_email_plus_has_parent"),
        ({"method": "school", "parent_email": ""}, "consent_record_school_iff_school_method"),
        ({"method": "by_phone", "parent_email": "p@example.org"}, "consent_record_method"),
    ],
)
def test_the_database_refuses_an_inconsistent_consent_record(fields: dict[str, str], constraint: str) -> None:
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    child = make_user(email="")
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ConsentRecord.objects.create(child=child, policy_version="2018-05-24", granted_at=timezone.now(), **fields)
    assert not ConsentRecord.objects.exists()


def test_the_database_keeps_one_current_rule_per_jurisdiction() -> None:

    from django.db import IntegrityError, transaction

    from consent.models import AgeRule

    with pytest.raises(IntegrityError, match="consent_agerule_one_current_per_jurisdiction"), transaction.atomic():
        AgeRule.objects.create(
            country="US", age=14, legal_source="dup", effective_from=datetime.date(2020, 1, 1), version=9
        )
