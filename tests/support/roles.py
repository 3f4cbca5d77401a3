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
from schools.models import School, SchoolMembership, SchoolStudentAccount
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


def make_school_admin(school: School, **kwargs: object) -> User:
    """An adult with an account of their own who administers ``school``."""
    user = UserFactory(**kwargs)
    MembershipFactory(school=school, user=user, role=SchoolMembership.Role.ADMIN)
    return user


def make_teacher(school: School | None = None, **kwargs: object) -> User:
    """An adult with an account of their own who teaches at ``school`` (a new school when None)."""
    user = UserFactory(**kwargs)
    if school is None:
        MembershipFactory(user=user, role=SchoolMembership.Role.TEACHER)
    else:
        MembershipFactory(school=school, user=user, role=SchoolMembership.Role.TEACHER)
    return user


def make_class_member(school: School, **kwargs: object) -> User:
    """A student of ``school`` who signs in with an account of their own (no school registration, no school
    consent: as after joining a class by code with a parent's approval, or an adult learner)."""
    user = UserFactory(**{"email": "", "verified_email": False, **kwargs})
    MembershipFactory(school=school, user=user, role=SchoolMembership.Role.STUDENT)
    return user


def make_school_student(school: School | None = None, *, registered_by: User | None = None, **kwargs: object) -> User:
    """An account that exists through a school's consent: registered by the school (a student membership and
    the school's registration) under the consent record of method ``school``, as the school's registration
    service leaves it."""
    user = UserFactory(**{"email": "", "verified_email": False, **kwargs})
    if school is None:
        school = School.objects.create(name="Lycée Émile Zola", country="FR", contact_email="office@school.example")
    if registered_by is None:
        registered_by = make_superuser()
    MembershipFactory(school=school, user=user, role=SchoolMembership.Role.STUDENT)
    SchoolStudentAccount.objects.create(user=user, school=school, registered_by=registered_by)
    consent_record_school(child=user, school=school, granted_by=registered_by)
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


MAKERS: dict[str, Callable[[], User | None]] = {
    "anonymous": lambda: None,
    "adult": lambda: UserFactory(),
    "unverified_adult": lambda: UserFactory(verified_email=False),
    "child": lambda: make_child(email=""),
    "school_student": make_school_student,
    "teacher": make_teacher,
    "support": lambda: make_staff(SUPPORT_GROUP),
    "billing_clerk": lambda: make_staff(BILLING_CLERK_GROUP),
    "privacy_officer": lambda: make_staff(PRIVACY_OFFICER_GROUP),
    "staff_without_role": lambda: make_staff(),
    "superuser": make_superuser,
}


def make(role: str) -> User | None:
    return MAKERS[role]()
