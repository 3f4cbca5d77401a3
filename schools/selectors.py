"""Reads on schools that other apps rely on (grading, consent, privacy). Signatures are a contract: keep them."""

from __future__ import annotations

from typing import Any

from .models import School, SchoolMembership, SchoolStudentAccount


def roles_of(*, user: Any, school: School) -> set[str]:
    """The roles ``user`` holds at ``school`` ("admin", "teacher", "student")."""
    if not getattr(user, "pk", None):
        return set()
    return set(SchoolMembership.objects.filter(school=school, user_id=user.pk).values_list("role", flat=True))


def is_school_registered(user: Any) -> bool:
    """An account a school registered: it may not link social services or buy."""
    return bool(getattr(user, "pk", None)) and SchoolStudentAccount.objects.filter(user_id=user.pk).exists()
