"""Demo accounts: an adult member and a superuser (idempotent)."""

from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

from mindomo.demo import DEMO_PASSWORD, DemoLogin

from . import hooks
from .models import User


def ensure_user(*, username: str, email: str, first_name: str, last_name: str, country: str, **flags: bool) -> User:
    """Create the demo user once; later runs leave it as it is (so edits made while trying the demo stay)."""
    user, created = User.objects.get_or_create(
        username=username,
        defaults={"email": email, "first_name": first_name, "last_name": last_name, "country": country, **flags},
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        if email:
            EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        hooks.created(user)  # as a sign-up does: the privacy policy in force is accepted
    return user


@transaction.atomic
def load() -> list[DemoLogin]:
    ensure_user(username="ada", email="ada@example.com", first_name="Ada", last_name="Lovelace", country="GB")
    ensure_user(
        username="admin",
        email="admin@example.com",
        first_name="Grace",
        last_name="Hopper",
        country="US",
        is_staff=True,
        is_superuser=True,
    )
    return [
        DemoLogin("adult member", "ada@example.com", DEMO_PASSWORD, "profile, email, password, connected services"),
        DemoLogin("superuser", "admin", DEMO_PASSWORD, "/admin/"),
    ]
