from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from grading.models import Assignment, Enrollment, Grade, SchoolClass
from schools.models import School, SchoolMembership
from tests.accounts.factories import UserFactory


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School

    name = factory.Sequence(lambda n: f"School {n}")
    country = "US"
    contact_email = factory.Sequence(lambda n: f"office{n}@school.example")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SchoolMembership

    school = factory.SubFactory(SchoolFactory)
    user = factory.SubFactory(UserFactory)
    role = SchoolMembership.Role.STUDENT


class SchoolClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SchoolClass

    school = factory.SubFactory(SchoolFactory)
    teacher = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Class {n}")


class AssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Assignment

    school_class = factory.SubFactory(SchoolClassFactory)
    title = factory.Sequence(lambda n: f"Assignment {n}")
    due_date = datetime.date(2026, 12, 1)
    max_score = Decimal("20")


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    school_class = factory.SubFactory(SchoolClassFactory)
    student = factory.SubFactory(UserFactory)
    number = factory.Sequence(lambda n: n + 1)


class GradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grade

    assignment = factory.SubFactory(AssignmentFactory)
    student = factory.SubFactory(UserFactory)
    score = Decimal("17")
    feedback = "Good work"
    graded_at = factory.LazyFunction(timezone.now)
