"""Every role against every operation of /api/openapi.json: the statuses each role gets, never a 5xx, and on
every refusal (401, 403, 404) nothing changed. A new operation fails here until it is added to the matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from accounts.models import AccountDeletionRequest, DataExport, User
from accounts.services import data_export_request
from analytics.models import CookieConsent
from billing.models import Invoice, Order
from consent.models import Guardian, PendingSignup
from grading.models import Grade, GradeAudit, GradeExport, ReportNoticeAcknowledgement
from schools.models import SchoolMembership
from tests.accounts.factories import UserFactory
from tests.api.helpers import birth_date, call
from tests.billing.helpers import paid_invoice
from tests.consent.portal_helpers import consented_child
from tests.grading.factories import AssignmentFactory, EnrollmentFactory, GradeFactory, SchoolClassFactory
from tests.support.roles import MAKERS

pytestmark = pytest.mark.django_db

ROLES = sorted(MAKERS)
ANY = object()  # every role the same


def _snapshot(world: dict[str, Any]) -> tuple[Any, ...]:
    other: User = User.objects.get(pk=world["other"].pk)
    return (
        User.objects.count(),
        DataExport.objects.count(),
        AccountDeletionRequest.objects.count(),
        CookieConsent.objects.count(),
        Grade.objects.count(),
        list(Grade.objects.order_by("pk").values_list("score", flat=True)),
        GradeAudit.objects.count(),
        GradeExport.objects.count(),
        ReportNoticeAcknowledgement.objects.count(),
        PendingSignup.objects.count(),
        Guardian.objects.count(),
        Invoice.objects.count(),
        Order.objects.count(),
        SchoolMembership.objects.count(),
        (other.first_name, other.is_active, other.password),
        User.objects.get(pk=world["child"].pk).is_active,
    )


@pytest.fixture
def world(db: Any) -> dict[str, Any]:
    other = UserFactory(first_name="Other")
    export = data_export_request(user=other)
    invoice = paid_invoice(other)
    school_class = SchoolClassFactory()
    assignment = AssignmentFactory(school_class=school_class)
    student = UserFactory()
    EnrollmentFactory(school_class=school_class, student=student)
    GradeFactory(assignment=assignment, student=student)
    child = consented_child("matrixkid", "matrix.parent@example.org")
    return {
        "other": other,
        "export": export.public_id,
        "invoice": invoice.number,
        "class": school_class.pk,
        "assignment": assignment.pk,
        "school": school_class.school_id,
        "student": student.pk,
        "child": child,
    }


def _signed_in(ok: set[int], **per_role: set[int]) -> Callable[[str], set[int]]:
    def expected(role: str) -> set[int]:
        if role == "anonymous":
            return {401}
        return per_role.get(role, ok)

    return expected


def _everyone(statuses: set[int]) -> Callable[[str], set[int]]:
    return lambda role: statuses


RESTRICTED = {"child": {403}, "school_student": {403}}
NOT_TEACHER = {role: {403} for role in ROLES if role not in ("teacher", "anonymous")}

# operation id -> (method, path, body, expected statuses by role)
MATRIX: dict[str, tuple[str, str, Any, Callable[[str], set[int]]]] = {
    "age_gate": ("post", "/api/v1/age-gate/", {"birth_date": birth_date(30), "country": "GB"}, _everyone({200})),
    "child_signup_create": (
        "post",
        "/api/v1/child-signup/",
        {"login": "kid9", "password": "purple-giraffe-runs-42", "parent_email": "p@example.org"},
        _everyone({403}),
    ),
    "child_signup_resend": ("post", "/api/v1/child-signup/resend/", {"resend_token": "x"}, _everyone({400})),
    "portal_link_request": ("post", "/api/v1/portal/link/", {"email": "nobody@example.org"}, _everyone({202})),
    "portal_sign_in": ("post", "/api/v1/portal/session/", {"token": "forged"}, _everyone({400})),
    "portal_sign_out": ("delete", "/api/v1/portal/session/", None, _everyone({401})),
    "portal_children": ("get", "/api/v1/portal/children/", None, _everyone({401})),
    "portal_child": ("get", "/api/v1/portal/children/{child}/", None, _everyone({401})),
    "portal_child_password": (
        "post",
        "/api/v1/portal/children/{child}/password/",
        {"password": "a-new-secret-for-him-1"},
        _everyone({401}),
    ),
    "portal_child_collection": (
        "post",
        "/api/v1/portal/children/{child}/collection/",
        {"action": "stop"},
        _everyone({401}),
    ),
    "portal_child_download": ("get", "/api/v1/portal/children/{child}/download/", None, _everyone({401})),
    "portal_child_delete": (
        "post",
        "/api/v1/portal/children/{child}/delete/",
        {"action": "delete", "confirm": True},
        _everyone({401}),
    ),
    "portal_guardian_invite": (
        "post",
        "/api/v1/portal/children/{child}/guardians/",
        {"email": "g@example.org"},
        _everyone({401}),
    ),
    "plans_list": ("get", "/api/v1/billing/plans/", None, _everyone({200})),
    "profile_read": ("get", "/api/v1/me/profile/", None, _signed_in({200})),
    "profile_update": (
        "put",
        "/api/v1/me/profile/",
        {"first_name": "Changed", "last_name": "Name", "country": "FR"},
        _signed_in({200}, **RESTRICTED),
    ),
    "exports_list": ("get", "/api/v1/me/exports/", None, _signed_in({200})),
    "export_request": ("post", "/api/v1/me/exports/", None, _signed_in({201})),
    "export_read": ("get", "/api/v1/me/exports/{export}/", None, _signed_in({404})),
    "export_download": ("get", "/api/v1/me/exports/{export}/download/", None, _signed_in({404})),
    "deletion_schedule": (
        "post",
        "/api/v1/me/deletion/",
        {"password": "not-the-password", "understood": True},
        _signed_in({400}),
    ),
    "cookie_choice_read": ("get", "/api/v1/me/cookies/", None, _signed_in({200})),
    "cookie_choice_update": ("put", "/api/v1/me/cookies/", {"choice": "analytics"}, _signed_in({200}, **RESTRICTED)),
    "orders_list": ("get", "/api/v1/billing/orders/", None, _signed_in({200})),
    "invoices_list": ("get", "/api/v1/billing/invoices/", None, _signed_in({200})),
    "invoice_pdf": ("get", "/api/v1/billing/invoices/{invoice}/pdf/", None, _signed_in({404})),
    "my_grades": ("get", "/api/v1/grades/", None, _signed_in({200})),
    "classes_list": ("get", "/api/v1/teaching/classes/", None, _signed_in({200})),
    "class_roster": ("get", "/api/v1/teaching/classes/{class}/roster/", None, _signed_in({404})),
    "class_assignments": ("get", "/api/v1/teaching/classes/{class}/assignments/", None, _signed_in({404})),
    "gradebook_read": ("get", "/api/v1/teaching/classes/{class}/gradebook/", None, _signed_in({404})),
    "gradebook_write": (
        "put",
        "/api/v1/teaching/classes/{class}/gradebook/",
        {"cells": [{"student_id": 1, "assignment_id": 1, "score": "1"}]},
        _signed_in({404}),
    ),
    "report_notice_read": ("get", "/api/v1/teaching/report-notice/", None, _signed_in({200}, **NOT_TEACHER)),
    "report_notice_acknowledge": (
        "post",
        "/api/v1/teaching/report-notice/",
        {"acknowledged": True},
        _signed_in({200}, **NOT_TEACHER),
    ),
    "assignment_report": ("get", "/api/v1/teaching/assignments/{assignment}/report/", None, _signed_in({404})),
    "schools_list": ("get", "/api/v1/schools/", None, _signed_in({200})),
    "school_roster": ("get", "/api/v1/schools/{school}/roster/", None, _signed_in({404})),
    "school_student_create": (
        "post",
        "/api/v1/schools/{school}/students/",
        {"first_name": "Eve", "last_name": "Intruder"},
        _signed_in({404}),
    ),
}


def test_the_matrix_covers_every_operation_of_the_schema(client: Client) -> None:
    document = client.get("/api/openapi.json").json()
    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    assert operations == set(MATRIX), "a new API operation: add it to the access matrix"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_against_every_operation(
    role: str, client_as: Callable[[str], tuple[Client, User | None]], world: dict[str, Any]
) -> None:
    client, _user = client_as(role)
    for operation, (method, template, body, expected) in MATRIX.items():
        path = template.format(
            child=world["child"].pk,
            export=world["export"],
            invoice=world["invoice"],
            **{"class": world["class"]},
            assignment=world["assignment"],
            school=world["school"],
        )
        before = _snapshot(world)
        response = call(client, method, path, body)
        allowed = expected(role)
        assert response.status_code in allowed, (role, operation, response.status_code, response.content[:300])
        if response.status_code in (401, 403, 404):
            assert _snapshot(world) == before, (role, operation, "a refusal changed something")
            assert set(response.json()) == {"errors"}, (role, operation)
