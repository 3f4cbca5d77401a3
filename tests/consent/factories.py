from __future__ import annotations

from typing import Any, cast

import factory
from django.utils import timezone

from accounts.models import User
from consent.models import ConsentMethod, ConsentRecord, Guardian
from tests.accounts.factories import UserFactory


def make_user(**kwargs: Any) -> User:
    return cast(User, UserFactory(**kwargs))


class ConsentRecordFactory(factory.django.DjangoModelFactory[ConsentRecord]):
    """A parent's email-plus consent to a child's account (a child with no email of their own), given now under
    the seed policy; pass ``rule=`` for the age rule it rests on, ``method=ConsentMethod.SCHOOL`` with ``school=``
    for a school's consent."""

    class Meta:
        model = ConsentRecord

    child = factory.SubFactory(UserFactory, email="")
    method = ConsentMethod.EMAIL_PLUS
    parent_email = factory.Sequence(lambda n: f"parent{n}@example.org")
    policy_version = "2018-05-24"
    rule = None
    granted_at = factory.LazyFunction(timezone.now)


class GuardianFactory(factory.django.DjangoModelFactory[Guardian]):
    """A second guardian of a consent record."""

    class Meta:
        model = Guardian

    record = factory.SubFactory(ConsentRecordFactory)
    email = factory.Sequence(lambda n: f"guardian{n}@example.org")
