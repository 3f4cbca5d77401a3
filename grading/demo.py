"""Demo school: an administrator, a teacher, a class of school-registered students with grades (idempotent)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from accounts.demo import ensure_user
from accounts.models import User
from mindomo.demo import DEMO_PASSWORD, DemoLogin
from schools import services as school_services
from schools.models import School, SchoolDomain, SchoolMembership, TeacherJoinRequest

from . import services
from .models import Assignment, SchoolClass

SCHOOL_NAME = "Maple Grove Primary School"
STUDENTS = [("Mia", "Khan"), ("Leo", "Okafor"), ("Zoe", "Novak"), ("Sam", "Ito")]
DEMO_JOIN_CODE = "SCIENCE6"  # shown as SCIE-NCE6
DEMO_JOIN_REQUEST_EMAIL = "katherine.johnson@maplegrove.example"


# A class of last school year: its grades are deleted PAST_CLASS_ENDED + the school's period (12 months) later.
PAST_CLASS = "Year 5 Science"
PAST_CLASS_ENDED = datetime.date(2026, 6, 19)


def _past_class(*, teacher: User, school_class: SchoolClass) -> None:
    """Last year's class of the same students, ended on PAST_CLASS_ENDED, with its grades (idempotent)."""
    if SchoolClass.objects.filter(school=school_class.school, teacher=teacher, name=PAST_CLASS).exists():
        return
    past = services.class_create(teacher=teacher, school=school_class.school, name=PAST_CLASS)
    students = list(User.objects.filter(enrollments__school_class=school_class).order_by("enrollments__number"))
    services.class_enroll_students(teacher=teacher, school_class=past, student_ids=[s.pk for s in students])
    rocks = services.assignment_create(
        teacher=teacher, school_class=past, title="Rocks and soils", due_date=PAST_CLASS_ENDED, max_score=Decimal("10")
    )
    services.grades_save(
        teacher=teacher,
        school_class=past,
        entries=[services.GradeEntry(s.pk, rocks.pk, Decimal("8"), "") for s in students],
    )
    # ended last school year (the service accepts only today or later: a past end is the demo's own history)
    SchoolClass.objects.filter(pk=past.pk).update(ends_on=PAST_CLASS_ENDED)


@transaction.atomic
def load() -> list[DemoLogin]:
    school, _created = School.objects.get_or_create(
        name=SCHOOL_NAME, defaults={"country": "US", "contact_email": "office@maplegrove.example"}
    )
    admin = ensure_user(
        username="principal", email="principal@maplegrove.example", first_name="Rosa", last_name="Parks", country="US"
    )
    teacher = ensure_user(
        username="teacher", email="teacher@maplegrove.example", first_name="Alan", last_name="Turing", country="US"
    )
    SchoolMembership.objects.get_or_create(school=school, user=admin, role=SchoolMembership.Role.ADMIN)
    SchoolMembership.objects.get_or_create(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)

    # the school signs in with Google Workspace (verified by DNS), and a teacher on no roster asked to join: the
    # principal sees the request on the roster page (README, Schools)
    domain, _created = SchoolDomain.objects.get_or_create(
        domain="maplegrove.example",
        defaults={
            "school": school,
            "provider": SchoolDomain.Provider.GOOGLE,
            "txt_token": "demo-maple-grove",
            "verified_at": timezone.now(),
            "verified_how": "dns",
        },
    )
    if not TeacherJoinRequest.objects.filter(school=school, email=DEMO_JOIN_REQUEST_EMAIL).exists():
        TeacherJoinRequest.objects.create(
            school=school,
            domain=domain,
            email=DEMO_JOIN_REQUEST_EMAIL,
            first_name="Katherine",
            last_name="Johnson",
            language="en",
        )

    school_class = SchoolClass.objects.filter(school=school, teacher=teacher, name="Year 6 Science").first()
    if school_class is not None and not school_class.join_code:
        SchoolClass.objects.filter(pk=school_class.pk).update(join_code=DEMO_JOIN_CODE)
    if school_class is None:
        students = school_services.students_register(
            actor=admin, school=school, rows=[school_services.StudentRow(first, last) for first, last in STUDENTS]
        )
        User.objects.filter(pk__in=[s.pk for s in students]).update(password=make_password(DEMO_PASSWORD))
        school_class = services.class_create(teacher=teacher, school=school, name="Year 6 Science")
        # a code README's demo table can name: the child `mia` joins with it after her parent approves
        SchoolClass.objects.filter(pk=school_class.pk).update(join_code=DEMO_JOIN_CODE)
        services.class_enroll_students(teacher=teacher, school_class=school_class, student_ids=[s.pk for s in students])
        plants = services.assignment_create(
            teacher=teacher,
            school_class=school_class,
            title="Plant cells poster",
            due_date=datetime.date(2026, 10, 2),
            max_score=Decimal("20"),
        )
        services.assignment_create(
            teacher=teacher,
            school_class=school_class,
            title="Magnets quiz",
            due_date=datetime.date(2026, 11, 6),
            max_score=Decimal("10"),
        )
        scores = [Decimal("18"), Decimal("15.5"), Decimal("19"), Decimal("12")]
        services.grades_save(
            teacher=teacher,
            school_class=school_class,
            entries=[
                services.GradeEntry(s.pk, plants.pk, score, "Well labelled." if score > 15 else "Label every part.")
                for s, score in zip(students, scores, strict=True)
            ],
        )
    _past_class(teacher=teacher, school_class=school_class)
    first_student = User.objects.filter(enrollments__school_class=school_class).order_by("enrollments__number").first()
    assert first_student is not None
    assert Assignment.objects.filter(school_class=school_class).exists()
    return [
        DemoLogin(
            "school administrator", "principal@maplegrove.example", DEMO_PASSWORD, "/grading/ roster, CSV import"
        ),
        DemoLogin("teacher", "teacher@maplegrove.example", DEMO_PASSWORD, "/grading/ gradebook, grade reports"),
        DemoLogin(
            "school-registered student", first_student.username, DEMO_PASSWORD, "/grading/sign-in/ then own grades"
        ),
    ]
