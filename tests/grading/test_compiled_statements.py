"""Reads compiled once per process (mindomo.statements): the same rows as compiling every time, for every person,
and no reuse where the SQL depends on more than ids."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import DataError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts.models import User
from consent.services import consent_record_school
from grading import selectors as grading_selectors
from grading.models import Assignment, Grade, SchoolClass
from mindomo import privacy, statements
from mindomo.privacy import registry
from privacy.models import AccessLog
from schools.models import School, SchoolMembership
from tests.grading.conftest import World
from tests.grading.factories import AssignmentFactory, SchoolClassFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_statements")]


def _by_pk(pk: int, ids: list[int]) -> tuple[str, list[Any], Any]:
    sql, params = User.objects.filter(pk=pk).exclude(pk__in=ids).values("username").query.sql_with_params()
    return sql, list(params), "meta"


def test_a_reused_statement_binds_each_calls_ids_as_compiling_would() -> None:
    first = statements.bind("t.by_pk", _by_pk, 7, [1, 2, 3])
    assert first == _by_pk(7, [1, 2, 3])
    again = statements.bind("t.by_pk", _by_pk, 11, [4, 5, 6])
    assert again == _by_pk(11, [4, 5, 6])
    # another length of the list is another shape, compiled for itself
    assert statements.bind("t.by_pk", _by_pk, 11, [4]) == _by_pk(11, [4])


def test_a_read_that_uses_an_id_other_than_as_a_parameter_is_not_reused() -> None:
    def derived(pk: int) -> tuple[str, list[Any], Any]:
        sql, params = User.objects.filter(username=f"user-{pk}").query.sql_with_params()
        return sql, list(params), None

    def dated(pk: int) -> tuple[str, list[Any], Any]:
        sql, params = User.objects.filter(pk=pk, date_joined__lt=timezone.now()).query.sql_with_params()
        return sql, list(params), None

    def reads_more_than_the_id(pk: int) -> tuple[str, list[Any], Any]:
        subject = privacy.Subject(pk)
        sql, params = User.objects.filter(email=subject.email).query.sql_with_params()  # type: ignore[attr-defined]
        return sql, list(params), None

    assert statements.bind("t.derived", derived, 7) is None
    assert statements.bind("t.dated", dated, 7) is None
    assert statements.bind("t.more", reads_more_than_the_id, 7) is None


def test_translated_text_in_the_parameters_follows_the_active_language() -> None:
    def labelled(pk: int) -> tuple[str, list[Any], Any]:
        sql, params = User.objects.filter(pk=pk, last_name=gettext("Report")).query.sql_with_params()
        return sql, list(params), None

    with translation.override("en"):
        english = statements.bind("t.labelled", labelled, 3)
    with translation.override("de"):
        german = statements.bind("t.labelled", labelled, 3)
    assert english is not None
    assert german is not None
    assert sorted(map(str, english[1])) == ["3", "Report"]
    assert gettext_in("de", "Report") in german[1]
    assert german[1] != english[1]


def gettext_in(language: str, text: str) -> str:
    with translation.override(language):
        return gettext(text)


def test_the_integer_type_the_database_is_given_is_kept() -> None:
    def accesses(pk: int) -> tuple[str, list[Any], Any]:
        sql, params = AccessLog.objects.filter(subject_id=pk).query.sql_with_params()
        return sql, list(params), None

    statements.bind("t.accesses", accesses, 5)
    bound = statements.bind("t.accesses", accesses, 9)
    assert bound is not None
    assert bound[1] == accesses(9)[1]
    assert [type(p) for p in bound[1]] == [type(p) for p in accesses(9)[1]]


def _grade(world: World, student: User, score: str) -> None:
    assignment = Assignment.objects.create(
        school_class=world.school_class, title="Essay", due_date=datetime.date(2026, 3, 1), max_score=Decimal("20")
    )
    Grade.objects.create(
        assignment=assignment, student=student, score=Decimal(score), graded_by=world.teacher, graded_at=timezone.now()
    )


def test_each_child_summarised_from_the_reused_statement_gets_their_own_data(world: World) -> None:
    _grade(world, world.other_student, "17.5")
    consent_record_school(child=world.student, school=world.school, granted_by=world.admin)

    def extra(child: privacy.Subject) -> list[privacy.SummaryItem]:
        return [privacy.Rows(Grade.objects.filter(student_id=child.pk).values("score"), limit=None)]

    cached = {u.pk: registry.summarise_user(u, also=extra) for u in (world.student, world.other_student)}
    reused = {key[0] for key, value in statements._templates.items() if value is not statements._UNUSABLE}
    assert {("privacy.summary", "grading"), ("privacy.summary", "consent")} <= reused
    statements.forget()
    original_template = statements._template
    statements._template = lambda build, shape: statements._UNUSABLE  # type: ignore[assignment]
    try:
        compiled = {u.pk: registry.summarise_user(u, also=extra) for u in (world.student, world.other_student)}
    finally:
        statements._template = original_template  # type: ignore[assignment]
    assert cached == compiled
    assert cached[world.student.pk] != cached[world.other_student.pk]
    assert (
        cached[world.other_student.pk]["grading"]["grades"] == Grade.objects.filter(student=world.other_student).count()
    )
    assert cached[world.other_student.pk][""]["0"] == [{"score": 17.5}]
    assert cached[world.student.pk]["consent"]["consent"]["method"] == "school"
    assert cached[world.other_student.pk]["consent"]["consent"] is None


def test_the_gradebooks_reused_statement_keeps_the_access_rule(world: World) -> None:
    """A teacher who no longer teaches at the school reads nothing, even after another teacher's page compiled
    the statement of the same shape."""
    assignment_ids = list(Assignment.objects.filter(school_class=world.school_class).values_list("pk", flat=True))
    student_ids = [world.student.pk]
    shown = grading_selectors.gradebook_grades(
        viewer=world.teacher, school_class=world.school_class, assignment_ids=assignment_ids, student_ids=student_ids
    )
    assert list(shown) == [(world.student.pk, world.assignment.pk)]
    assert shown[(world.student.pk, world.assignment.pk)][1] == world.grade.feedback
    SchoolMembership.objects.filter(user=world.teacher, school=world.school).delete()
    assert (
        grading_selectors.gradebook_grades(
            viewer=world.teacher,
            school_class=world.school_class,
            assignment_ids=assignment_ids,
            student_ids=student_ids,
        )
        == {}
    )
    # another teacher of the school, not the class's: nothing either
    assert (
        grading_selectors.gradebook_grades(
            viewer=world.other_teacher,
            school_class=world.school_class,
            assignment_ids=assignment_ids,
            student_ids=student_ids,
        )
        == {}
    )


def test_a_closure_given_as_the_pages_own_items_is_read_for_each_call(world: World) -> None:
    """A function holding values of its caller (here: whose grades) is not one statement: never reused."""

    def grades_of(student: User) -> Any:
        def extra(_child: privacy.Subject) -> list[privacy.SummaryItem]:
            return [privacy.Count(Grade.objects.filter(student_id=student.pk))]

        return extra

    for score in ("12", "13", "14"):
        _grade(world, world.other_student, score)
    assert (
        Grade.objects.filter(student=world.student).count() != Grade.objects.filter(student=world.other_student).count()
    )
    first = registry.summarise_user(world.student, also=grades_of(world.student))[""]["0"]
    second = registry.summarise_user(world.student, also=grades_of(world.other_student))[""]["0"]
    assert first == Grade.objects.filter(student=world.student).count()
    assert second == Grade.objects.filter(student=world.other_student).count()


def test_the_gradebooks_assignments_are_the_orms_for_each_class(world: World) -> None:
    """Bound to each class's id: the same instances, in the same order, as the ORM's query."""
    other_class = SchoolClassFactory(school=world.school, teacher=world.teacher, name="Other")
    for school_class, titles in ((world.school_class, ["B", "A"]), (other_class, ["C"])):
        for n, title in enumerate(titles):
            AssignmentFactory(school_class=school_class, title=title, due_date=datetime.date(2026, 3, 1 + n))
    for school_class in (world.school_class, other_class, world.school_class):
        expected = list(Assignment.objects.filter(school_class=school_class).order_by("due_date", "pk"))
        read = grading_selectors.gradebook_assignments(school_class=school_class)
        assert read == expected
        assert [(a.title, a.due_date, a.max_score, a.school_class_id) for a in read] == [
            (a.title, a.due_date, a.max_score, a.school_class_id) for a in expected
        ]


def test_the_gradebooks_class_students_and_assignments_are_the_orms_for_each_teacher(
    world: World, django_assert_num_queries: Any
) -> None:
    """One round trip, three statements compiled once: the class (with its school) only for the teacher who still
    teaches it, its students and assignments as the ORM reads them, whoever compiled the statements first."""
    other_class = SchoolClassFactory(school=world.school, teacher=world.other_teacher, name="Other")
    AssignmentFactory(school_class=other_class, title="C", due_date=datetime.date(2026, 3, 1))
    for viewer, school_class in ((world.teacher, world.school_class), (world.other_teacher, other_class)):
        opened = grading_selectors.gradebook_open(viewer=viewer, class_id=school_class.pk)
        assert opened is not None
        expected = SchoolClass.objects.select_related("school").get(pk=school_class.pk)
        assert opened.school_class == expected
        assert [getattr(opened.school_class, f.attname) for f in SchoolClass._meta.concrete_fields] == [
            getattr(expected, f.attname) for f in SchoolClass._meta.concrete_fields
        ]
        with django_assert_num_queries(0):
            school = opened.school_class.school  # read with the class, as select_related does
        assert [getattr(school, f.attname) for f in School._meta.concrete_fields] == [
            getattr(expected.school, f.attname) for f in School._meta.concrete_fields
        ]
        assert opened.students == grading_selectors.gradebook_students(school_class=school_class)
        assert opened.assignments == list(
            Assignment.objects.filter(school_class=school_class).order_by("due_date", "pk")
        )
    # not the class's teacher, a teacher of another school, someone signed out: nothing
    assert grading_selectors.gradebook_open(viewer=world.teacher, class_id=other_class.pk) is None
    assert grading_selectors.gradebook_open(viewer=world.foreign_teacher, class_id=world.school_class.pk) is None
    assert grading_selectors.gradebook_open(viewer=AnonymousUser(), class_id=world.school_class.pk) is None
    assert grading_selectors.gradebook_open(viewer=world.teacher, class_id=10**20) is None  # no such class
    # a teacher who left the school reads nothing, after their own page compiled the statements
    SchoolMembership.objects.filter(user=world.teacher, school=world.school).delete()
    assert grading_selectors.gradebook_open(viewer=world.teacher, class_id=world.school_class.pk) is None


def test_the_gradebooks_grades_are_sent_as_psycopg_would_bind_them_without_its_parameters(world: World) -> None:
    """``statements.inline``: the ids written into the compiled text, the same bytes as psycopg's client-side
    binding, and the cursor given no parameters (psycopg reads a statement of over 50 parameters again on every
    call); a number beyond a bigint is left to psycopg, as before."""
    from django.db import connection

    sent: list[tuple[str, Any]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append((sql, params))
        return execute(sql, params, many, context)

    teacher, school_class = world.teacher, world.school_class
    builder = grading_selectors._gradebook_grades_sql
    connection.ensure_connection()
    for assignment_ids, student_ids in (([3, 1, 2], [world.student.pk, 9]), ([7, 8, 9], [5, 6])):
        inlined = statements.inline("t.grades", builder, teacher.pk, school_class.pk, assignment_ids, student_ids)
        sql, params, _meta = builder(teacher.pk, school_class.pk, assignment_ids, student_ids)
        assert inlined == psycopg.ClientCursor(connection.connection).mogrify(sql, params)
    assert statements.inline("t.grades", builder, teacher.pk, school_class.pk, [10**20, 1, 2], [3, 4]) is None
    assert statements.inline("t.by_pk", _by_pk, 7, [1, 2]) is not None
    assert statements.inline("t.email", _by_email, "a@example.org") is None  # a string is bound by psycopg

    _grade(world, world.student, "12.50")
    assignment = Assignment.objects.get(title="Essay")
    with connection.execute_wrapper(record):
        grades = grading_selectors.gradebook_grades(
            viewer=teacher, school_class=school_class, assignment_ids=[assignment.pk], student_ids=[world.student.pk]
        )
    assert grades == {(world.student.pk, assignment.pk): ("12.5", "")}
    assert len(sent) == 1
    assert sent[0][1] is None
    assert f'"grading_grade"."student_id" IN ({world.student.pk})' in sent[0][0]


def _by_email(email: str) -> tuple[str, list[Any], Any]:
    sql, params = User.objects.filter(email=email).values("pk").query.sql_with_params()
    return sql, list(params), None


@pytest.mark.django_db(transaction=True)
def test_the_gradebooks_first_statements_are_prepared_once_per_connection(world: World) -> None:
    """``statements.together`` (outside a transaction, as a page's request): the class, students and assignments
    are prepared with the first call on a connection and then only executed, all in one round trip; after an
    error the names change, since what was prepared before it is not known (PREPARE is not undone by a
    rollback), and statements deallocated behind its back (psycopg's DEALLOCATE ALL after a rollback) are
    prepared again; inside a transaction they are sent compiled, in one query."""
    from django.db import connection

    sent: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    def opened() -> Any:
        read = grading_selectors.gradebook_open(viewer=world.teacher, class_id=world.school_class.pk)
        assert read is not None
        return (read.school_class, read.students, read.assignments)

    connection.ensure_connection()
    # as on a connection new from the pool (this one may have prepared them for an earlier test: new names)
    statements._prepared[connection.connection] = (1000, set())
    with connection.execute_wrapper(record):
        first = opened()
        assert opened() == first
    assert len(sent) == 2
    assert sent[0].count("PREPARE ") == 3
    assert sent[0].count("EXECUTE ") == 3
    assert "PREPARE" not in sent[1]
    assert sent[1].count("EXECUTE ") == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'mindomo_%%_1000'")
        assert cursor.fetchone() == (3,)
        cursor.execute("DEALLOCATE ALL")
    sent.clear()
    with connection.execute_wrapper(record):
        assert opened() == first  # missing: prepared again under new names, the query sent once more
        assert opened() == first
    assert [text.count("PREPARE ") for text in sent] == [0, 3, 0]
    sent.clear()
    with transaction.atomic(), connection.execute_wrapper(record):
        assert opened() == first
    assert "PREPARE" not in sent[0]
    assert "EXECUTE" not in sent[0]

    def divided(a: int, b: int) -> tuple[str, list[Any], Any]:
        return "SELECT 1 / (%s::integer - %s::integer)", [a, b], None

    with pytest.raises(DataError):
        statements.together([("t.divided", divided, (4, 4))])
    assert statements.together([("t.divided", divided, (5, 4))]) == [[(1,)]]
