"""The grading app's menu entries: the school for its administrators, classes for teachers, grades for
students."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mindomo.navigation import NavItem, Viewer
from schools.models import SchoolMembership


def _roles(request: HttpRequest) -> set[str]:
    cached = getattr(request, "_grading_roles", None)
    if cached is None:
        cached = set(SchoolMembership.objects.filter(user_id=request.user.pk or 0).values_list("role", flat=True))
        request._grading_roles = cached  # type: ignore[attr-defined]
    return cached


def is_school_admin(request: HttpRequest) -> bool:
    return SchoolMembership.Role.ADMIN in _roles(request)


def is_teacher(request: HttpRequest) -> bool:
    return SchoolMembership.Role.TEACHER in _roles(request)


def is_student(request: HttpRequest) -> bool:
    return SchoolMembership.Role.STUDENT in _roles(request)


def menu_items(viewer: Viewer) -> Iterator[NavItem]:
    if not viewer.signed_in:
        return
    if viewer.is_("school_admin"):
        yield NavItem("school", _("Your school"), reverse("grading:index"), order=30)
    if viewer.is_("teacher"):
        yield NavItem("classes", _("Classes"), reverse("grading:index"), order=31)
    if viewer.is_("student"):
        yield NavItem("my_grades", _("My grades"), reverse("grading:my_grades"), order=32)
    elif viewer.is_("child") and not viewer.is_("school_account"):
        # a child with their own account, in no class yet: the way in is a class code and a parent's approval
        yield NavItem("join_class", _("Join a class"), reverse("grading:class_join"), order=32)
