"""The parent's page for a child costs the same few queries with no grade and with 500: every provider's
summary in one statement, the ledger and the access log one query each (the full export only for the zip)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent.services import consent_record_school, school_guardians_set
from grading.models import Assignment, Grade
from tests.consent.portal_helpers import signed_in_parent
from tests.grading.conftest import World

pytestmark = pytest.mark.django_db


def _queries(client: Any, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        html = client.get(url).content.decode()
    return len(queries), html


def test_the_childs_page_runs_the_same_queries_with_0_and_500_grades(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    record = consent_record_school(child=world.student, school=world.school, granted_by=world.admin)
    with django_capture_on_commit_callbacks(execute=True):
        school_guardians_set(child=world.student, school=world.school, actor=world.admin, emails=["dad@example.org"])
    Grade.objects.filter(student=world.student).delete()
    parent = signed_in_parent("dad@example.org", django_capture_on_commit_callbacks)
    url = reverse("consent:portal_child", args=[record.child_id])
    parent.get(url)  # warm-up: the first page of a session does some one-off work
    none, html = _queries(parent, url)
    assert "grade" not in html.split("What we hold about your child")[1].split("Consent history")[0]

    now = timezone.now()
    assignments = Assignment.objects.bulk_create(
        [
            Assignment(
                school_class=world.school_class, title=f"Task {n}", due_date=datetime.date(2026, 1, 1), max_score=10
            )
            for n in range(500)
        ]
    )
    Grade.objects.bulk_create(
        [
            Grade(assignment=a, student=world.student, score=Decimal("7"), graded_by=world.teacher, graded_at=now)
            for a in assignments
        ]
    )
    many, html = _queries(parent, url)
    assert "500 grades in 1 class" in html
    assert many == none, (none, many)
    assert many <= 10, many
    assert "Task 499" in html  # the newest grades are listed, the rest is in the download
