"""Every role the access matrices test, made one way: ``make(role)`` returns a user in that role (None for an
anonymous visitor). The fixtures in tests/conftest.py (``client_as``, ``member``, ``support_user``...) use it."""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from consent.age_gate import decide
from consent.services import age_decision_record, consent_record_school
from mindomo.roles import BILLING_CLERK_GROUP, PRIVACY_OFFICER_GROUP, SUPPORT_GROUP
from schools.models import School
from tests.accounts.factories import UserFactory
from tests.grading.factories import MembershipFactory
from tests.support.mfa import totp_enable


def make_child(**kwargs: object) -> User:
    """An account whose age decision says it is a child (the consent app's rule)."""
    user = UserFactory(**kwargs)
    today = timezone.localdate()
    decision = decide(birth_date=datetime.date(today.year - 9, 1, 15), country="US", today=today)
    age_decision_record(user=user, decision=decision)
    return user


def make_school_student(**kwargs: object) -> User:
    """An account that exists through a school's consent."""
    user = UserFactory(**kwargs)
    school = School.objects.create(name="Lycée Émile Zola", country="FR", contact_email="office@school.example")
    consent_record_school(child=user, school=school, granted_by=UserFactory(is_superuser=True, is_staff=True))
    return user


def make_staff(group_name: str | None = None) -> User:
    """A staff account in one of the staff roles (groups created by a migration), or in none."""
    user = UserFactory(is_staff=True)
    if group_name is not None:
        user.groups.add(Group.objects.get(name=group_name))
    totp_enable(user)  # staff must have a second factor (privacy.staff_security); mfa.sign_in() completes it
    return user


def make_superuser() -> User:
    user = UserFactory(is_staff=True, is_superuser=True)
    totp_enable(user)
    return user


def _teacher() -> User:
    return MembershipFactory(role="teacher").user


MAKERS: dict[str, Callable[[], User | None]] = {
    "anonymous": lambda: None,
    "adult": lambda: UserFactory(),
    "unverified_adult": lambda: UserFactory(verified_email=False),
    "child": lambda: make_child(email=""),
    "school_student": lambda: make_school_student(email=""),
    "teacher": _teacher,
    "support": lambda: make_staff(SUPPORT_GROUP),
    "billing_clerk": lambda: make_staff(BILLING_CLERK_GROUP),
    "privacy_officer": lambda: make_staff(PRIVACY_OFFICER_GROUP),
    "staff_without_role": lambda: make_staff(),
    "superuser": make_superuser,
}


def make(role: str) -> User | None:
    return MAKERS[role]()
