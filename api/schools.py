"""A school's roster and student creation (school administrators and teachers, as on the roster page): the same
form and ``schools.services.students_register`` (all or nothing; only administrators record parents)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from grading import selectors
from grading.forms import StudentForm
from schools import services as school_services
from schools.models import School, SchoolMembership, SchoolStudentAccount

from . import errors
from .auth import user_of
from .errors import ApiError, responses
from .limits import consume
from .schemas import Input

router = Router(tags=["schools"])


class SchoolOut(Schema):
    id: int
    name: str
    country: str
    administrator: bool


@router.get("/schools/", response=responses(list[SchoolOut]), operation_id="schools_list")
@paginate(PageNumberPagination, page_size=50)
def schools_list(request: HttpRequest) -> list[dict[str, Any]]:
    """The schools whose roster the signed-in person manages (administrators and teachers)."""
    viewer = user_of(request)
    administered = set(selectors.school_list_administered_by(viewer=viewer).values_list("pk", flat=True))
    return [
        {"id": s.pk, "name": s.name, "country": str(s.country), "administrator": s.pk in administered}
        for s in selectors.school_list_managed_by(viewer=viewer).order_by("name", "pk")
    ]


def _school(request: HttpRequest, school_id: int) -> School:
    found = selectors.school_list_managed_by(viewer=user_of(request)).filter(pk=school_id).first()
    if found is None:
        raise errors.not_found()
    return found


class MemberOut(Schema):
    user_id: int
    role: str
    username: str
    first_name: str
    last_name: str
    school_registered: bool


@router.get("/schools/{school_id}/roster/", response=responses(list[MemberOut]), operation_id="school_roster")
@paginate(PageNumberPagination, page_size=50)
def school_roster(request: HttpRequest, school_id: int) -> list[dict[str, Any]]:
    school = _school(request, school_id)
    registered = SchoolStudentAccount.objects.filter(user_id=OuterRef("user_id"), school=school)
    members = (
        SchoolMembership.objects.filter(school=school)
        .annotate(registered=Exists(registered))
        .select_related("user")
        .order_by("role", "user__last_name", "user__first_name", "user__username")
    )
    return [
        {
            "user_id": m.user_id,
            "role": m.role,
            "username": m.user.username,
            "first_name": m.user.first_name,
            "last_name": m.user.last_name,
            "school_registered": m.registered,
        }
        for m in members
    ]


class StudentIn(Input):
    first_name: str = Field(max_length=300)
    last_name: str = Field(max_length=300)
    username: str = Field("", max_length=300)
    parent_email: str = Field("", max_length=254, description="School administrators only")
    parent_email_2: str = Field("", max_length=254, description="School administrators only")


class CreatedStudentOut(Schema):
    user_id: int
    username: str


@router.post(
    "/schools/{school_id}/students/",
    response=responses(CreatedStudentOut, status=201),
    operation_id="school_student_create",
)
def school_student_create(request: HttpRequest, school_id: int, payload: StudentIn) -> Status:
    """Register a student account for the school (no email; a login card gives its first password). Parents'
    addresses, recorded by an administrator, are emailed how to open the parent portal."""
    school = _school(request, school_id)
    viewer = user_of(request)
    is_admin = selectors.school_list_administered_by(viewer=viewer).filter(pk=school.pk).exists()
    if not is_admin and (payload.parent_email or payload.parent_email_2):
        raise ApiError.one(
            403, "admin_only", _("Only the school's administrators can record a student's parents."), "parent_email"
        )
    if payload.parent_email or payload.parent_email_2:
        consume(request, kind="email")
    form = StudentForm(payload.dict(), may_record_parents=is_admin)
    if not form.is_valid():
        raise errors.from_form(form)
    try:
        users = school_services.students_register(actor=viewer, school=school, rows=[form.row()])
    except ValidationError as error:
        raise errors.from_validation_error(error) from error
    return Status(201, {"user_id": users[0].pk, "username": users[0].username})
