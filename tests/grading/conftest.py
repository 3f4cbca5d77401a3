"""A small school world for grading tests: two schools, their staff and students, a class with a grade."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from grading.models import Assignment, Grade, SchoolClass
from mindomo.roles import BILLING_CLERK_GROUP, PRIVACY_OFFICER_GROUP, SUPPORT_GROUP
from schools.models import School
from tests.grading.factories import (
    AssignmentFactory,
    EnrollmentFactory,
    GradeFactory,
    SchoolClassFactory,
    SchoolFactory,
)
from tests.support import roles
from tests.support.mfa import sign_in

SECRET_FEEDBACK = "Sehr gut, Quokka-7731"


@dataclass
class World:
    school: School
    other_school: School
    admin: User
    teacher: User
    other_teacher: User
    foreign_teacher: User
    student: User
    other_student: User
    newcomer: User
    adult: User
    superuser: User
    support: User
    billing_clerk: User
    privacy_officer: User
    staff_without_role: User
    school_class: SchoolClass
    assignment: Assignment
    grade: Grade

    def user(self, role: str) -> User | None:
        return None if role == "anonymous" else getattr(self, role)

    def client(self, role: str) -> Client:
        client = Client()
        user = self.user(role)
        if user is not None:
            sign_in(client, user)
        return client


def accept_policy(*users: User) -> None:
    """These users accepted the current privacy policy (the state of anyone who signed up under it)."""
    from privacy import services as privacy_services

    if privacy_services.policy_current() is not None:
        for user in users:
            privacy_services.policy_accept(user=user)


@pytest.fixture
def world(db: Any) -> World:
    school = SchoolFactory(name="Maple Grove")
    other_school = SchoolFactory(name="Oak Hill")
    # every role made as the other tests make it (tests/support/roles.py)
    admin = roles.make_school_admin(school, first_name="Rosa", last_name="Parks")
    teacher = roles.make_teacher(school, first_name="Alan", last_name="Turing")
    other_teacher = roles.make_teacher(school)
    foreign_teacher = roles.make_teacher(other_school)
    student = roles.make_school_student(school, registered_by=admin, first_name="Mia", last_name="Khan")
    other_student = roles.make_class_member(school, first_name="Leo", last_name="Okafor")
    newcomer = roles.make_class_member(school, first_name="Zoe", last_name="Novak")
    school_class = SchoolClassFactory(school=school, teacher=teacher, name="Year 6 Science")
    EnrollmentFactory(school_class=school_class, student=student, number=1)
    EnrollmentFactory(school_class=school_class, student=other_student, number=2)
    assignment = AssignmentFactory(school_class=school_class, title="Plant cells", max_score=Decimal("20"))
    grade = GradeFactory(
        assignment=assignment, student=student, score=Decimal("17.5"), feedback=SECRET_FEEDBACK, graded_by=teacher
    )
    # UserFactory's people accepted the privacy policy in force, as anyone who signed up under it
    adult = roles.make("adult")
    superuser = roles.make_superuser()
    staff = {
        "support": roles.make_staff(SUPPORT_GROUP),
        "billing_clerk": roles.make_staff(BILLING_CLERK_GROUP),
        "privacy_officer": roles.make_staff(PRIVACY_OFFICER_GROUP),
        "staff_without_role": roles.make_staff(),
    }
    return World(
        school=school,
        other_school=other_school,
        admin=admin,
        teacher=teacher,
        other_teacher=other_teacher,
        foreign_teacher=foreign_teacher,
        student=student,
        other_student=other_student,
        newcomer=newcomer,
        adult=adult,
        superuser=superuser,
        **staff,
        school_class=school_class,
        assignment=assignment,
        grade=grade,
    )


@pytest.fixture
def fast_hasher(settings: Any) -> None:
    """Login cards hash passwords; Argon2's cost is not what these tests are about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
