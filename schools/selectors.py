"""Reads on schools that other apps rely on (grading, consent, privacy). Signatures are a contract: keep them."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from .models import RosterImport, School, SchoolMembership, SchoolStudentAccount, TeacherJoinRequest


def roles_of(*, user: Any, school: School) -> set[str]:
    """The roles ``user`` holds at ``school`` ("admin", "teacher", "student")."""
    if not getattr(user, "pk", None):
        return set()
    return set(SchoolMembership.objects.filter(school=school, user_id=user.pk).values_list("role", flat=True))


def is_school_registered(user: Any) -> bool:
    """An account a school registered: it may not link social services or buy."""
    return bool(getattr(user, "pk", None)) and SchoolStudentAccount.objects.filter(user_id=user.pk).exists()


def schools_administered_by(*, viewer: Any) -> QuerySet[School]:
    """The schools ``viewer`` administers (their pages answer 404 to anyone else)."""
    if not getattr(viewer, "is_authenticated", False):
        return School.objects.none()
    return School.objects.filter(memberships__user=viewer, memberships__role=SchoolMembership.Role.ADMIN).distinct()


def roster_imports_visible_to(*, viewer: Any) -> QuerySet[RosterImport]:
    """Roster imports of the schools ``viewer`` administers."""
    return RosterImport.objects.filter(school__in=schools_administered_by(viewer=viewer)).select_related("school")


def teacher_join_requests_pending(*, viewer: Any, school: School) -> QuerySet[TeacherJoinRequest]:
    """The requests to join ``school`` as a teacher that wait for an answer, for its administrators (else none)."""
    if not schools_administered_by(viewer=viewer).filter(pk=school.pk).exists():
        return TeacherJoinRequest.objects.none()
    return TeacherJoinRequest.objects.filter(school=school, status=TeacherJoinRequest.Status.PENDING).order_by(
        "created_at", "pk"
    )
