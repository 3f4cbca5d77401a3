from __future__ import annotations

from functools import cache
from typing import Any

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password

from accounts.models import User

PASSWORD = "correct-horse-battery-9"


@cache
def _hashed_password() -> str:
    # Argon2 is deliberately slow: hash the shared test password once per session, always with Argon2 (the
    # product's hasher, in every test's PASSWORD_HASHERS): hashed with whatever hasher a test had put first
    # (MD5, for speed), the cached hash would fail every sign-in of the later tests that do not list it.
    return make_password(PASSWORD, hasher="argon2")


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    country = "US"
    password = factory.LazyFunction(_hashed_password)

    @factory.post_generation
    def verified_email(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and obj.email and extracted is not False:
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)

    @factory.post_generation
    def accepted_policy(obj: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        """A signed-up person accepted the privacy policy in force (pass accepted_policy=False for one who did not)."""
        if create and extracted is not False:
            from privacy.services import policy_accept, policy_current

            if policy_current() is not None:
                policy_accept(user=obj)
