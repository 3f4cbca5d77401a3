"""The parent roles of the access matrix: a parent sees their child's grades only in the parent portal's
overview (through the grading privacy provider); another parent sees nothing; neither reaches a grading page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from grading.models import Enrollment, Grade
from schools.models import SchoolMembership
from tests.consent.portal_helpers import consented_child, signed_in_parent
from tests.grading.conftest import World

FEEDBACK = "Photosynthesis explained well, Kiwi-5521"


@pytest.fixture
def graded_child(world: World) -> Any:
    child = consented_child("kidgrader", "parent@example.org")
    SchoolMembership.objects.create(school=world.school, user=child, role=SchoolMembership.Role.STUDENT)
    Enrollment.objects.create(school_class=world.school_class, student=child, number=3)
    Grade.objects.create(
        assignment=world.assignment,
        student=child,
        score=Decimal("16"),
        feedback=FEEDBACK,
        graded_by=world.teacher,
        graded_at=timezone.now(),
    )
    return child


def test_the_childs_parent_sees_the_grade_in_the_portal_overview(
    graded_child: Any, django_capture_on_commit_callbacks: Any
) -> None:
    parent = signed_in_parent("parent@example.org", django_capture_on_commit_callbacks)
    page = parent.get(reverse("consent:portal_child", args=[graded_child.pk])).content.decode()
    assert FEEDBACK in page
    assert "Plant cells" in page


@pytest.mark.parametrize("parent_email", ["parent@example.org", "another.parent@example.org"])
def test_no_parent_reaches_a_grading_page(
    world: World, graded_child: Any, parent_email: str, django_capture_on_commit_callbacks: Any
) -> None:
    if parent_email != "parent@example.org":
        consented_child("otherkid", parent_email)
    parent = signed_in_parent(parent_email, django_capture_on_commit_callbacks)
    for url in (
        reverse("grading:my_grades"),
        reverse("grading:gradebook", args=[world.school_class.pk]),
        reverse("grading:assignment_download", args=[world.assignment.pk, "csv"]),
    ):
        response = parent.get(url)
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]


def test_another_parent_does_not_see_the_childs_grades(
    graded_child: Any, django_capture_on_commit_callbacks: Any
) -> None:
    consented_child("otherkid", "another.parent@example.org")
    other = signed_in_parent("another.parent@example.org", django_capture_on_commit_callbacks)
    response = other.get(reverse("consent:portal_child", args=[graded_child.pk]))
    assert response.status_code == 404
    assert FEEDBACK not in response.content.decode()
