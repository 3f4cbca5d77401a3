"""A school with an administrator and a teacher who have their own accounts, and OneRoster zips built here."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from schools.models import School
from schools.oneroster_sample import SampleClass, SampleEnrollment, SampleUser, write_zip
from tests.accounts.factories import UserFactory
from tests.support import roles


@dataclass
class SchoolWorld:
    school: School
    admin: User
    teacher: User

    def client(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


@pytest.fixture
def sw(db: Any, settings: Any, tmp_path: Any) -> SchoolWorld:
    settings.MEDIA_ROOT = str(tmp_path / "media")  # the kept zips, per test
    school = School.objects.create(name="Maple Grove", country="US", contact_email="office@maple.example")
    admin = roles.make_school_admin(school, email="principal@maple.example", first_name="Rosa", last_name="Parks")
    # an adult with an account of their own whom the roster below names as a teacher (not yet a member)
    teacher = UserFactory(email="turing@maple.example", first_name="Alan", last_name="Turing")
    return SchoolWorld(school=school, admin=admin, teacher=teacher)


STUDENTS = [
    SampleUser("stu-1", "student", "Mia", "Khan", username="mia.khan", agents=("par-1",)),
    SampleUser("stu-2", "student", "Leo", "Okafor", username="leo.okafor", agents=("par-2",)),
    SampleUser("stu-3", "student", "Zoe", "Novak"),
    SampleUser("stu-4", "student", "Sam", "Ito", agents=("par-3", "par-4")),
]
STAFF = [
    SampleUser("tea-1", "teacher", "Alan", "Turing", email="turing@maple.example"),
    SampleUser("tea-2", "teacher", "Grace", "Hopper", email="hopper@maple.example"),
]
GUARDIANS = [
    SampleUser("par-1", "guardian", "Amir", "Khan", email="amir.khan@family.example", agents=("stu-1",)),
    SampleUser("par-2", "parent", "Ngozi", "Okafor", email="ngozi@family.example"),
    SampleUser("par-3", "guardian", "Yuki", "Ito", email="yuki@family.example"),
    SampleUser("par-4", "guardian", "Ken", "Ito", email="ken@family.example"),
]
CLASSES = [SampleClass("cls-sci", "Year 6 Science"), SampleClass("cls-art", "Year 6 Art")]
ENROLLMENTS = [
    SampleEnrollment("enr-t1", "cls-sci", "tea-1", role="teacher", primary="true"),
    SampleEnrollment("enr-t2", "cls-art", "tea-2", role="teacher", primary="true"),
    SampleEnrollment("enr-1", "cls-sci", "stu-1"),
    SampleEnrollment("enr-2", "cls-sci", "stu-2"),
    SampleEnrollment("enr-3", "cls-sci", "stu-3"),
    SampleEnrollment("enr-4", "cls-art", "stu-1"),
    SampleEnrollment("enr-5", "cls-art", "stu-4"),
]


def roster_zip(
    *,
    users: list[SampleUser] | None = None,
    classes: list[SampleClass] | None = None,
    enrollments: list[SampleEnrollment] | None = None,
    version: str = "1.1",
    extra: dict[str, bytes] | None = None,
) -> bytes:
    buffer = io.BytesIO()
    write_zip(
        buffer,
        users=users if users is not None else [*STUDENTS, *STAFF, *GUARDIANS],
        classes=classes if classes is not None else CLASSES,
        enrollments=enrollments if enrollments is not None else ENROLLMENTS,
        version=version,
        extra=extra,
    )
    return buffer.getvalue()
