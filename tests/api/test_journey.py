"""A mobile app's journey over HTTP only (allauth's "app" client): a child signs up through the age gate, the
parent approves from the link emailed through real SMTP, the child signs in with a token and reads their grades."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
import requests

from accounts.models import User
from tests.api.helpers import adult_signup_body, birth_date
from tests.grading.factories import AssignmentFactory, EnrollmentFactory, GradeFactory, MembershipFactory
from tests.support.smtp import SmtpSink, body_text, first_link

CHILD_PASSWORD = "purple-giraffe-runs-42"
PARENT = "parent.of.leo@example.org"


@pytest.mark.django_db(transaction=True)
def test_a_child_signs_up_in_the_app_and_reads_grades_after_the_parent_approves(
    live_server: Any, smtp_sink: SmtpSink
) -> None:
    base = live_server.url
    app = requests.Session()  # what a phone app does: JSON, headers, no cookies it relies on

    gate = app.post(f"{base}/api/v1/age-gate/", json={"birth_date": birth_date(10), "country": "US"}, timeout=30)
    assert gate.status_code == 200
    assert gate.json()["outcome"] == "child"
    decision = {"X-Age-Decision": gate.json()["decision_token"]}

    adult_signup = app.post(
        f"{base}/_allauth/app/v1/auth/signup",
        json=adult_signup_body("leo@example.org"),
        headers=decision,
        timeout=30,
    )
    assert adult_signup.status_code == 403  # a child decision never opens the adult sign-up
    assert adult_signup.json()["errors"][0]["code"] == "child_signup_required"

    signup = app.post(
        f"{base}/api/v1/child-signup/",
        json={"login": "leo2016", "password": CHILD_PASSWORD, "parent_email": PARENT},
        headers=decision,
        timeout=30,
    )
    assert signup.status_code == 201, signup.text
    assert not User.objects.filter(username="leo2016").exists()  # nothing until the parent answers

    message = smtp_sink.wait_for(to=PARENT, subject_contains="permission")
    link = first_link(body_text(message), "/consent/parent/")
    path = re.sub(r"^https?://[^/]+", "", link)

    parent = requests.Session()  # the parent's browser
    page = parent.get(f"{base}{path}", timeout=30)
    assert page.status_code == 200
    csrf = parent.cookies["csrftoken"]
    approved = parent.post(
        f"{base}{path}",
        data={"action": "approve", "guardian": "on", "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{base}{path}"},
        timeout=30,
    )
    assert approved.status_code == 200, approved.text[:500]
    child = User.objects.get(username="leo2016")

    # a teacher of the child's school grades them
    membership = MembershipFactory(user=child)
    teacher = MembershipFactory(school=membership.school, role="teacher").user
    assignment = AssignmentFactory(school_class__school=membership.school, school_class__teacher=teacher, title="Maps")
    EnrollmentFactory(school_class=assignment.school_class, student=child)
    GradeFactory(assignment=assignment, student=child, score=Decimal("18"), graded_by=teacher)

    login = app.post(
        f"{base}/_allauth/app/v1/auth/login", json={"username": "leo2016", "password": CHILD_PASSWORD}, timeout=30
    )
    assert login.status_code == 200, login.text
    token = {"X-Session-Token": login.json()["meta"]["session_token"]}

    grades = app.get(f"{base}/api/v1/grades/", headers=token, timeout=30)
    assert grades.status_code == 200
    assert [(g["assignment"], g["score"]) for g in grades.json()["items"]] == [("Maps", "18")]
    profile = app.get(f"{base}/api/v1/me/profile/", headers=token, timeout=30).json()
    assert (profile["username"], profile["restricted"]) == ("leo2016", True)

    assert app.delete(f"{base}/_allauth/app/v1/auth/session", headers=token, timeout=30).status_code == 401
    assert app.get(f"{base}/api/v1/grades/", headers=token, timeout=30).status_code == 401
