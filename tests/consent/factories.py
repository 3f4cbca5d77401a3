from __future__ import annotations

from typing import Any, cast

from accounts.models import User
from tests.accounts.factories import UserFactory


def make_user(**kwargs: Any) -> User:
    return cast(User, UserFactory(**kwargs))
