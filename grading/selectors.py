"""Reads that carry access rules. Every read of grades goes through ``grade_list_visible_to``.

A grade is visible to the teacher of its class and to the graded student, to nobody else: not other
teachers of the school, not school administrators, not other students, not staff (staff have no grade
access here; a privacy-officer role is a separate, logged path). Views use these querysets with
``get_object_or_404`` so that "not yours" answers exactly like "not there".
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.db import connection
from django.db.models import CharField, Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.functions import Cast

from accounts.models import User
from mindomo import statements
from schools.models import School, SchoolMembership

from .models import Assignment, ClassJoinRequest, Enrollment, Grade, GradeExport, SchoolClass


def _is_real_user(viewer: Any) -> bool:
    return bool(viewer is not None and viewer.is_authenticated and viewer.is_active)


def grade_list_visible_to(*, viewer: Any, school_class_id: int | None = None) -> QuerySet[Grade]:
    """Grades the viewer may read: those of classes they teach (while still a teacher of that school),
    and their own.

    With ``school_class_id``: the same rule for the grades of that one class, written for PostgreSQL to check
    the class once (does the viewer teach it, ``class_list_taught_by``: one uncorrelated test) instead of
    joining every grade to its assignment and class to test each row; the grades are then read through
    whichever index reads fewer of them (the page's students or the class's assignments). It returns exactly
    what ``grade_list_visible_to(viewer=viewer).filter(assignment__school_class_id=school_class_id)`` returns
    (``tests/grading/test_access.py`` compares the two for every role)."""
    if not _is_real_user(viewer):
        return Grade.objects.none()
    if school_class_id is not None:
        teaches_class = Exists(class_list_taught_by(viewer=viewer).filter(pk=school_class_id))
        return Grade.objects.filter(
            Q(assignment__in=Assignment.objects.filter(school_class_id=school_class_id)),
            Q(teaches_class) | Q(student=viewer),
        )
    still_teacher = Exists(
        SchoolMembership.objects.filter(
            school_id=OuterRef("assignment__school_class__school_id"), user=viewer, role=SchoolMembership.Role.TEACHER
        )
    )
    teaches = Q(assignment__school_class__teacher=viewer) & Q(still_teacher)
    return Grade.objects.filter(teaches | Q(student=viewer))


def gradebook_grades(
    *, viewer: Any, school_class: SchoolClass, assignment_ids: list[int], student_ids: list[int]
) -> dict[tuple[int, int], tuple[str, str]]:
    """{(student id, assignment id): (score as shown, feedback)} of these students and assignments of the class.

    The score is written by PostgreSQL (``trim_scale``: 17.50 -> "17.5", 18.00 -> "18"): a gradebook of
    6,000 cells would otherwise build 6,000 Decimals only to print them again. The statement is
    ``grade_list_visible_to``'s for this one class (the class checked once, not per grade: PostgreSQL then reads
    the page's students' grades through the students' index, or the class's assignments' through theirs, as
    fewer rows), compiled once per process and page shape (``mindomo.statements``).
    """
    if not _is_real_user(viewer) or not assignment_ids or not student_ids:
        return {}
    args = (viewer.pk, school_class.pk, assignment_ids, student_ids)
    with connection.cursor() as cursor:
        # its ids written into the text once compiled (``statements.inline``: the bytes psycopg would send)
        inlined = statements.inline("grading.gradebook_grades", _gradebook_grades_sql, *args)
        if inlined is not None:
            cursor.execute(inlined)
        else:
            sql, params, _meta = _gradebook_grades_sql(*args)
            cursor.execute(sql, params)
        return {(sid, aid): (shown, feedback) for sid, aid, shown, feedback in cursor.fetchall()}


def _gradebook_grades_sql(
    viewer_id: int, class_id: int, assignment_ids: list[int], student_ids: list[int]
) -> tuple[str, list[Any], None]:
    """The gradebook's read of ``viewer_id``'s view of the grades (the caller checked that the viewer is a
    signed-in, active person: ``grade_list_visible_to`` is given them by id)."""
    viewer = User(pk=viewer_id, is_active=True)
    score = Cast(Func(F("score"), function="trim_scale"), CharField())
    rows = (
        grade_list_visible_to(viewer=viewer, school_class_id=class_id)
        .filter(assignment_id__in=assignment_ids, student_id__in=student_ids)
        .annotate(shown=score)
        .values_list("student_id", "assignment_id", "shown", "feedback")
    )
    sql, params = rows.query.sql_with_params()
    return sql, list(params), None


def class_list_taught_by(*, viewer: Any) -> QuerySet[SchoolClass]:
    """Classes the viewer teaches (only while they are a teacher of the class's school)."""
    if not _is_real_user(viewer):
        return SchoolClass.objects.none()
    still_teacher = Exists(
        SchoolMembership.objects.filter(
            school_id=OuterRef("school_id"), user=viewer, role=SchoolMembership.Role.TEACHER
        )
    )
    return SchoolClass.objects.filter(still_teacher, teacher=viewer)


def assignment_list_taught_by(*, viewer: Any) -> QuerySet[Assignment]:
    return Assignment.objects.filter(school_class__in=class_list_taught_by(viewer=viewer))


def school_list_managed_by(*, viewer: Any) -> QuerySet[School]:
    """Schools whose roster the viewer manages: school administrators and teachers."""
    if not _is_real_user(viewer):
        return School.objects.none()
    return School.objects.filter(
        memberships__user=viewer,
        memberships__role__in=[SchoolMembership.Role.ADMIN, SchoolMembership.Role.TEACHER],
    ).distinct()


def school_list_administered_by(*, viewer: Any) -> QuerySet[School]:
    if not _is_real_user(viewer):
        return School.objects.none()
    return School.objects.filter(memberships__user=viewer, memberships__role=SchoolMembership.Role.ADMIN).distinct()


def school_list_teaching(*, viewer: Any) -> QuerySet[School]:
    if not _is_real_user(viewer):
        return School.objects.none()
    return School.objects.filter(memberships__user=viewer, memberships__role=SchoolMembership.Role.TEACHER).distinct()


def enrollment_list(*, school_class: SchoolClass) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(school_class=school_class)
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "number")
    )


class GradebookStudent(NamedTuple):
    """One row of a gradebook: a student enrolled in the class (no model instance: a page lists hundreds)."""

    student_id: int
    first_name: str
    last_name: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


def gradebook_students(*, school_class: SchoolClass) -> list[GradebookStudent]:
    """The class's students in the gradebook's order (last name, first name, class number); compiled once per
    process (``mindomo.statements``)."""
    sql, params, _meta = statements.bind(
        "grading.gradebook_students", _gradebook_students_sql, school_class.pk
    ) or _gradebook_students_sql(school_class.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [GradebookStudent(*row) for row in cursor.fetchall()]


def _gradebook_students_sql(class_id: int) -> tuple[str, list[Any], None]:
    rows = (
        Enrollment.objects.filter(school_class_id=class_id)
        .order_by("student__last_name", "student__first_name", "number")
        .values_list("student_id", "student__first_name", "student__last_name")
    )
    sql, params = rows.query.sql_with_params()
    return sql, list(params), None


_ASSIGNMENT_COLUMNS = [field.attname for field in Assignment._meta.concrete_fields]


def gradebook_assignments(*, school_class: SchoolClass) -> list[Assignment]:
    """The class's assignments in the gradebook's order (due date, then id), compiled once per process
    (``mindomo.statements``): the instances are made from the rows (``Model.from_db``), as the ORM would."""
    sql, params, _meta = statements.bind(
        "grading.gradebook_assignments", _gradebook_assignments_sql, school_class.pk
    ) or _gradebook_assignments_sql(school_class.pk)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [Assignment.from_db(connection.alias, _ASSIGNMENT_COLUMNS, row) for row in cursor.fetchall()]


def _gradebook_assignments_sql(class_id: int) -> tuple[str, list[Any], None]:
    rows = Assignment.objects.filter(school_class_id=class_id).order_by("due_date", "pk")
    sql, params = rows.query.sql_with_params()
    return sql, list(params), None


_CLASS_COLUMNS = [field.attname for field in SchoolClass._meta.concrete_fields]
_SCHOOL_COLUMNS = [field.attname for field in School._meta.concrete_fields]
_CLASS_SCHOOL = SchoolClass._meta.get_field("school")


class GradebookOpened(NamedTuple):
    """What every gradebook request reads first: the class (with its school), its students, its assignments."""

    school_class: SchoolClass
    students: list[GradebookStudent]
    assignments: list[Assignment]


def gradebook_open(*, viewer: Any, class_id: int) -> GradebookOpened | None:
    """The class ``viewer`` teaches (``class_list_taught_by``: only while a teacher of its school) read with its
    school, with its students (``gradebook_students``) and assignments (``gradebook_assignments``); None when
    the viewer does not teach it (the page answers 404, as for a class that does not exist).

    The three statements are compiled once per process and sent together, one round trip instead of three: on a
    loaded machine each round trip is a wait for PostgreSQL's turn on a core, longer than the statement itself.
    Outside a transaction each is prepared once per connection and run by ``EXECUTE`` (``statements.together``:
    PostgreSQL planned them again on every call, half their time). The students and assignments are read for
    the class's id whatever the access check answers, and dropped unseen when it says no.
    """
    if not _is_real_user(viewer):
        return None
    class_rows, student_rows, assignment_rows = statements.together(
        [
            ("grading.class_taught", _class_taught_sql, (viewer.pk, class_id)),
            ("grading.gradebook_students", _gradebook_students_sql, (class_id,)),
            ("grading.gradebook_assignments", _gradebook_assignments_sql, (class_id,)),
        ]
    )
    if not class_rows:
        return None
    row = class_rows[0]
    school_class = SchoolClass.from_db(connection.alias, _CLASS_COLUMNS, row[: len(_CLASS_COLUMNS)])
    school = School.from_db(connection.alias, _SCHOOL_COLUMNS, row[len(_CLASS_COLUMNS) :])
    _CLASS_SCHOOL.set_cached_value(school_class, school)  # as select_related("school") does
    return GradebookOpened(
        school_class,
        [GradebookStudent(*r) for r in student_rows],
        [Assignment.from_db(connection.alias, _ASSIGNMENT_COLUMNS, r) for r in assignment_rows],
    )


def _class_taught_sql(viewer_id: int, class_id: int) -> tuple[str, list[Any], None]:
    """``class_list_taught_by(viewer)``'s class ``class_id`` with its school's columns (the caller checked that
    the viewer is a signed-in, active person: the rule is given them by id)."""
    viewer = User(pk=viewer_id, is_active=True)
    rows = (
        class_list_taught_by(viewer=viewer)
        .filter(pk=class_id)
        .order_by()
        .values_list(*_CLASS_COLUMNS, *(f"school__{column}" for column in _SCHOOL_COLUMNS))
    )
    sql, params = rows.query.sql_with_params()
    return sql, list(params), None


def export_list_by(*, viewer: Any) -> QuerySet[GradeExport]:
    """A teacher's own export history."""
    if not _is_real_user(viewer):
        return GradeExport.objects.none()
    return GradeExport.objects.filter(teacher=viewer).select_related("assignment", "assignment__school_class")


def school_child_teacher_emails(*, school: School, child_id: int) -> list[str]:
    """The email addresses of the teachers of ``child_id``'s classes at ``school`` (a parent's request goes
    to them too)."""
    classes = SchoolClass.objects.filter(school=school, enrollments__student_id=child_id).exclude(teacher__email="")
    return list(classes.values_list("teacher__email", flat=True))


def class_join_requests_of(*, student: Any) -> list[ClassJoinRequest]:
    """A student's requests to join classes, newest first, with the class and school (one query)."""
    return list(
        ClassJoinRequest.objects.filter(student_id=student.pk)
        .select_related("school_class__school")
        .order_by("-created_at", "-pk")[:20]
    )


def class_join_requests_waiting(*, school_class: SchoolClass) -> list[ClassJoinRequest]:
    """Who asked to join a class and waits for a parent (the teacher sees the username only)."""
    return list(
        ClassJoinRequest.objects.filter(school_class=school_class, status=ClassJoinRequest.Status.WAITING)
        .select_related("student")
        .order_by("created_at", "pk")
    )
