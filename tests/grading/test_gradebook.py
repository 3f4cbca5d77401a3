"""Gradebook: one page per class, a column or the whole grid saved in one POST, constant queries, audit rows."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from grading import services
from grading.models import Assignment, Enrollment, Grade, GradeAudit, SchoolClass
from schools.models import SchoolMembership
from tests.accounts.factories import UserFactory
from tests.grading.conftest import World, accept_policy
from tests.grading.factories import AssignmentFactory, MembershipFactory, SchoolClassFactory, SchoolFactory

GRADEBOOK_QUERIES = 2  # the class, its enrollments and assignments in one round trip; the grades: for 5 or 200 students
GRADEBOOK_STUDENTS_PER_PAGE = 35  # at most; a larger class in pages of even size (200 students: six of 33-34)


def _first_page(size: int) -> int:
    """How many students the first page of a class of ``size`` shows."""
    pages = -(-size // GRADEBOOK_STUDENTS_PER_PAGE)
    return -(-size // pages)


def _site_overhead(client: Client) -> int:
    """Queries every page costs (session, user, the site's middleware and context processors), measured on
    a page whose own work is one query, after a first request has settled the session."""
    url = reverse("grading:export_history")
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured) - 1


def _class_of(size: int) -> tuple[SchoolClass, list[Assignment], list[User]]:
    school = SchoolFactory()
    teacher = UserFactory()
    MembershipFactory(school=school, user=teacher, role=SchoolMembership.Role.TEACHER)
    school_class = SchoolClassFactory(school=school, teacher=teacher)
    accept_policy(teacher)
    students = User.objects.bulk_create(
        [User(username=f"s{size}-{i}", first_name=f"First{i}", last_name=f"Last{i}", password="!") for i in range(size)]
    )
    SchoolMembership.objects.bulk_create(
        [SchoolMembership(school=school, user=s, role=SchoolMembership.Role.STUDENT) for s in students]
    )
    Enrollment.objects.bulk_create(
        [Enrollment(school_class=school_class, student=s, number=i) for i, s in enumerate(students, start=1)]
    )
    assignments = [AssignmentFactory(school_class=school_class, max_score=Decimal("10")) for _ in range(3)]
    Grade.objects.bulk_create(
        [
            Grade(
                assignment=assignments[0], student=s, score=Decimal("5"), graded_by=teacher, graded_at=school.created_at
            )
            for s in students
        ]
    )
    return school_class, assignments, students


@pytest.mark.parametrize("size", [5, 200])
def test_gradebook_page_runs_constant_queries(db: Any, size: int, django_assert_num_queries: Any) -> None:
    school_class, assignments, _students = _class_of(size)
    client = Client()
    client.force_login(school_class.teacher)
    overhead = _site_overhead(client)
    with django_assert_num_queries(overhead + GRADEBOOK_QUERIES):
        response = client.get(reverse("grading:gradebook", args=[school_class.pk]))
    assert response.status_code == 200
    assert response.content.count(b'name="score-') == _first_page(size) * len(assignments)


@pytest.mark.parametrize("size", [5, 200])
def test_saving_the_whole_grid_runs_constant_queries(db: Any, size: int, django_assert_max_num_queries: Any) -> None:
    school_class, assignments, students = _class_of(size)
    client = Client()
    client.force_login(school_class.teacher)
    data: dict[str, str] = {"save_all": "1"}
    for s in students:
        for a in assignments:
            data[f"score-{s.pk}-{a.pk}"] = "7" if a == assignments[1] else ("6" if a == assignments[0] else "")
            data[f"feedback-{s.pk}-{a.pk}"] = ""
    overhead = _site_overhead(client)
    # the page's reads, then savepoints, membership check, locks and bulk writes: a fixed number
    with django_assert_max_num_queries(overhead + 16):
        response = client.post(reverse("grading:gradebook", args=[school_class.pk]), data)
    assert response.status_code == 302
    assert Grade.objects.filter(assignment=assignments[1], score=Decimal("7")).count() == size
    assert Grade.objects.filter(assignment=assignments[0], score=Decimal("6")).count() == size
    assert GradeAudit.objects.filter(action=GradeAudit.Action.CREATED).count() == size
    assert GradeAudit.objects.filter(action=GradeAudit.Action.UPDATED, old_score=5, new_score=6).count() == size


@pytest.mark.parametrize("size", [5, 200])
def test_class_list_runs_constant_queries(db: Any, size: int, django_assert_max_num_queries: Any) -> None:
    school_class, _assignments, _students = _class_of(size)
    for i in range(size // 5):
        SchoolClassFactory(school=school_class.school, teacher=school_class.teacher, name=f"Extra {i}")
    client = Client()
    client.force_login(school_class.teacher)
    overhead = _site_overhead(client)
    # is a teacher, the schools for the form (counted, then listed), the classes
    with django_assert_max_num_queries(overhead + 4):
        response = client.get(reverse("grading:class_list"))
    assert response.status_code == 200
    assert response.content.count(b"/grading/classes/") >= size // 5 + 1


def test_saving_one_column_leaves_the_others_alone(world: World) -> None:
    second = AssignmentFactory(school_class=world.school_class, title="Quiz", max_score=Decimal("10"))
    client = world.client("teacher")
    data = {
        "save_column": str(second.pk),
        f"score-{world.student.pk}-{world.assignment.pk}": "1",  # other column: edited but not saved
        f"feedback-{world.student.pk}-{world.assignment.pk}": "",
        f"score-{world.student.pk}-{second.pk}": "9.5",
        f"feedback-{world.student.pk}-{second.pk}": "Great",
        f"score-{world.other_student.pk}-{second.pk}": "",
        f"feedback-{world.other_student.pk}-{second.pk}": "",
    }
    response = client.post(reverse("grading:gradebook", args=[world.school_class.pk]), data)
    assert response.status_code == 302
    assert Grade.objects.get(pk=world.grade.pk).score == Decimal("17.5")
    saved = Grade.objects.get(assignment=second, student=world.student)
    assert (saved.score, saved.feedback, saved.graded_by) == (Decimal("9.5"), "Great", world.teacher)
    assert not Grade.objects.filter(assignment=second, student=world.other_student).exists()


def test_every_change_writes_an_audit_row(world: World) -> None:
    url = reverse("grading:gradebook", args=[world.school_class.pk])
    client = world.client("teacher")
    cell = f"{world.student.pk}-{world.assignment.pk}"
    client.post(url, {"save_all": "1", f"score-{cell}": "12", f"feedback-{cell}": "Better"})
    client.post(url, {"save_all": "1", f"score-{cell}": "12", f"feedback-{cell}": "Better"})  # no change
    client.post(url, {"save_all": "1", f"score-{cell}": "", f"feedback-{cell}": ""})
    audits = list(GradeAudit.objects.filter(student=world.student).order_by("pk"))
    assert [(a.action, a.old_score, a.new_score, a.new_feedback) for a in audits] == [
        ("updated", Decimal("17.5"), Decimal("12"), "Better"),
        ("cleared", Decimal("12"), None, ""),
    ]
    assert all(a.changed_by_id == world.teacher.pk for a in audits)
    assert not Grade.objects.filter(pk=world.grade.pk).exists()


@pytest.mark.parametrize(
    ("score", "feedback"),
    [
        ("21", ""),
        ("-1", ""),
        ("abc", ""),
        ("1.234", ""),
        ("NaN", ""),
        ("", "feedback without a score"),
        ("5", "x" * 2001),
    ],
)
def test_a_bad_cell_saves_nothing(world: World, score: str, feedback: str) -> None:
    url = reverse("grading:gradebook", args=[world.school_class.pk])
    data = {
        "save_all": "1",
        f"score-{world.student.pk}-{world.assignment.pk}": "3",
        f"feedback-{world.student.pk}-{world.assignment.pk}": "",
        f"score-{world.other_student.pk}-{world.assignment.pk}": score,
        f"feedback-{world.other_student.pk}-{world.assignment.pk}": feedback,
    }
    response = world.client("teacher").post(url, data)
    assert response.status_code == 400
    assert b"Nothing was saved" in response.content
    assert Grade.objects.get(pk=world.grade.pk).score == Decimal("17.5")
    assert Grade.objects.count() == 1
    assert GradeAudit.objects.count() == 0


def test_a_column_that_is_not_in_the_class_is_refused(world: World) -> None:
    foreign = AssignmentFactory()
    url = reverse("grading:gradebook", args=[world.school_class.pk])
    data = {"save_column": str(foreign.pk), f"score-{world.student.pk}-{foreign.pk}": "3"}
    response = world.client("teacher").post(url, data)
    assert response.status_code == 400
    assert not Grade.objects.filter(assignment=foreign).exists()


def test_grades_save_refuses_cells_outside_the_class(world: World) -> None:
    outsider = UserFactory()
    with pytest.raises(ValidationError):
        services.grades_save(
            teacher=world.teacher,
            school_class=world.school_class,
            entries=[services.GradeEntry(outsider.pk, world.assignment.pk, Decimal("3"))],
        )
    assert not Grade.objects.filter(student=outsider).exists()


def test_assignment_form_errors_are_shown_and_nothing_is_created(world: World) -> None:
    url = reverse("grading:assignment_create", args=[world.school_class.pk])
    response = world.client("teacher").post(url, {"title": "", "due_date": "not a date", "max_score": "0"})
    assert response.status_code == 400
    assert Assignment.objects.count() == 1


def test_enrolling_numbers_students_and_refuses_other_schools(world: World) -> None:
    outsider = UserFactory()
    MembershipFactory(school=world.other_school, user=outsider, role=SchoolMembership.Role.STUDENT)
    with pytest.raises(ValidationError):
        services.class_enroll_students(
            teacher=world.teacher, school_class=world.school_class, student_ids=[outsider.pk, world.newcomer.pk]
        )
    assert (
        services.class_enroll_students(
            teacher=world.teacher, school_class=world.school_class, student_ids=[world.newcomer.pk, world.student.pk]
        )
        == 1
    )
    assert Enrollment.objects.get(school_class=world.school_class, student=world.newcomer).number == 3


def test_creating_a_class_twice_with_one_name_is_refused(world: World) -> None:
    services.class_create(teacher=world.teacher, school=world.school, name="Art")
    response = world.client("teacher").post(reverse("grading:class_list"), {"school": world.school.pk, "name": "Art"})
    assert response.status_code == 400
    assert SchoolClass.objects.filter(name="Art").count() == 1


def test_student_sees_only_their_own_grades(world: World) -> None:
    AssignmentFactory(school_class=world.school_class, title="Quiz", due_date=datetime.date(2026, 12, 2))
    Grade.objects.create(
        assignment=world.assignment,
        student=world.other_student,
        score=Decimal("4"),
        feedback="Leo's secret",
        graded_at=world.grade.graded_at,
    )
    response = world.client("student").get(reverse("grading:my_grades"))
    assert b"17.5 / 20" in response.content
    assert b"Leo's secret" not in response.content
    assert b"4 / 20" not in response.content


def test_wide_gradebooks_show_as_many_columns_as_one_post_can_carry(db: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 40  # 5 students: (40 - 20) // (2 * 5) = 2 columns per page
    school_class, assignments, _students = _class_of(5)
    client = Client()
    client.force_login(school_class.teacher)
    url = reverse("grading:gradebook", args=[school_class.pk])
    latest = client.get(url).content.decode()
    assert assignments[0].title not in latest
    assert assignments[2].title in latest
    assert "Earlier assignments" in latest
    earliest = client.get(url + "?from=0").content.decode()
    assert assignments[0].title in earliest
    assert assignments[2].title not in earliest
    assert "Later assignments" in earliest


def _accessible_names(html: str) -> dict[str, str]:
    """{input name: its accessible name} computed from aria-labelledby as a browser does (the referenced
    elements' texts, joined by spaces); every referenced id must exist once."""
    texts: dict[str, str] = {}
    labelled: dict[str, list[str]] = {}

    class Parser(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[tuple[str, str, list[str]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if tag == "input" and a.get("aria-labelledby"):
                labelled[str(a["name"])] = str(a["aria-labelledby"]).split()
            if a.get("id"):
                assert a["id"] not in texts, f"duplicate id {a['id']}"
                texts[str(a["id"])] = ""
                self.open.append((tag, str(a["id"]), []))

        def handle_data(self, data: str) -> None:
            for _tag, _id, parts in self.open:
                parts.append(data)

        def handle_endtag(self, tag: str) -> None:
            if self.open and self.open[-1][0] == tag:
                _tag, ident, parts = self.open.pop()
                texts[ident] = "".join(parts).strip()

    Parser().feed(html)
    return {name: " ".join(texts[i] for i in ids) for name, ids in labelled.items()}


def test_every_cell_is_named_by_its_row_and_column_headers(world: World) -> None:
    client = Client()
    client.force_login(world.teacher)
    html = client.get(reverse("grading:gradebook", args=[world.school_class.pk])).content.decode()
    names = _accessible_names(html)
    student, assignment = world.student, world.assignment
    cell = f"{student.pk}-{assignment.pk}"
    who = f"{student.last_name}, {student.first_name}"
    assert names[f"score-{cell}"] == f"Score {who} {assignment.title}"
    assert names[f"feedback-{cell}"] == f"Feedback {who} {assignment.title}"
    assert html.count('name="score-') == len([n for n in names if n.startswith("score-")])  # every cell named


def test_names_titles_and_feedback_are_escaped_in_the_grid(world: World) -> None:
    world.student.last_name = '<b onmouseover="x">Bold</b>'
    world.student.save(update_fields=["last_name"])
    world.assignment.title = "<i>Essay</i>"
    world.assignment.save(update_fields=["title"])
    Grade.objects.update_or_create(
        assignment=world.assignment,
        student=world.student,
        defaults={"score": Decimal("17.50"), "feedback": '"><script>alert(1)</script>', "graded_by": world.teacher},
    )
    client = Client()
    client.force_login(world.teacher)
    html = client.get(reverse("grading:gradebook", args=[world.school_class.pk])).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b onmouseover" not in html
    assert "&lt;b onmouseover=&quot;x&quot;&gt;Bold&lt;/b&gt;" in html
    assert "<i>Essay</i>" not in html
    assert "&lt;i&gt;Essay&lt;/i&gt;" in html
    assert 'value="17.5"' in html  # the score as PostgreSQL trims it


def test_large_classes_are_paged_by_students_and_each_page_saves_its_own(db: Any) -> None:
    school_class, assignments, students = _class_of(120)  # four pages of 30
    client = Client()
    client.force_login(school_class.teacher)
    url = reverse("grading:gradebook", args=[school_class.pk])
    by_name = sorted(students, key=lambda s: (s.last_name, s.first_name))
    last_page = client.get(url + "?page=4").content.decode()
    assert "Students 91–120 of 120" in last_page
    assert f'name="score-{by_name[90].pk}-' in last_page
    assert f'name="score-{by_name[89].pk}-' not in last_page
    assert client.get(url + "?page=99").content.decode().count('name="score-') == 30 * len(assignments)
    first_page = client.get(url).content.decode()
    assert "Next students" in first_page
    assert "Previous students" not in first_page
    data = {"save_all": "1", "page": "4", "from": "0"}
    for s in by_name[90:]:
        for a in assignments:
            data[f"score-{s.pk}-{a.pk}"] = "3" if a == assignments[2] else ("5" if a == assignments[0] else "")
            data[f"feedback-{s.pk}-{a.pk}"] = ""
    response = client.post(url, data)
    assert response.status_code == 302
    assert "page=4" in response["Location"]
    assert Grade.objects.filter(assignment=assignments[2], score=Decimal("3")).count() == 30
    assert Grade.objects.filter(assignment=assignments[0]).count() == 120  # the other pages' grades untouched


@pytest.mark.parametrize(
    ("size", "pages"),
    [(35, [35]), (36, [18, 18]), (71, [24, 24, 23]), (200, [34, 34, 34, 34, 34, 30])],
)
def test_a_class_is_paged_evenly_with_no_short_last_page(db: Any, size: int, pages: list[int]) -> None:
    """Up to 35 students on one page; a larger class in as few pages as that allows, of even size."""
    school_class, assignments, _students = _class_of(size)
    client = Client()
    client.force_login(school_class.teacher)
    url = reverse("grading:gradebook", args=[school_class.pk])
    shown = [
        client.get(f"{url}?page={page}").content.decode().count('name="score-') // len(assignments)
        for page in range(1, len(pages) + 1)
    ]
    assert shown == pages


def test_a_cell_carries_only_what_is_used(world: Any) -> None:
    """The grid's markup per cell (about 1,000 cells on a page of 34 students): no type (text is the default), no
    size (the style sheet sets the width), short ids for the headers the cells are named by, no empty value, the
    "feedback" placeholder only where it can show (an empty feedback field)."""
    client = Client()
    client.force_login(world.teacher)
    html = client.get(reverse("grading:gradebook", args=[world.school_class.pk])).content.decode()
    grid = html[html.index("<tbody>") : html.index("</tbody>")]
    cells = re.findall(r"<td>.*?</td>", grid)
    assert len(cells) == 2
    assert 'type="text"' not in grid
    assert "size=" not in grid
    assert 'value=""' not in grid
    graded = f'name="score-{world.student.pk}-{world.assignment.pk}" value="17.5"'
    assert graded in grid
    empty = f'<input inputmode="decimal" name="score-{world.other_student.pk}-{world.assignment.pk}" aria-labelledby='
    assert empty in grid
    assert max(len(cell) for cell in cells) < 240  # 245-280 bytes before, with the same ids and text
    with_feedback = next(cell for cell in cells if f'name="feedback-{world.student.pk}-' in cell)
    without = next(cell for cell in cells if f'name="feedback-{world.other_student.pk}-' in cell)
    assert 'placeholder="feedback"' not in with_feedback
    assert 'placeholder="feedback"' in without
    assert 'maxlength="2000"' in without
    assert 'maxlength="2000"' in with_feedback
