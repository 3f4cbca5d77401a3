"""The grades of a school's past classes are kept only for the school's declared period (COPPA §312.10,
GDPR Art. 5(1)(e)): the class's end, the school's period, the retention rules, the pages."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import formats, timezone

from grading import retention, services
from grading.models import Assignment, Enrollment, Grade, GradeAudit, GradeExport, SchoolClass
from privacy import services as privacy_services
from schools.models import GRADE_RETENTION_MONTHS_DEFAULT, School, SchoolMembership
from tests.accounts.factories import UserFactory
from tests.grading.conftest import World
from tests.grading.factories import (
    AssignmentFactory,
    EnrollmentFactory,
    GradeFactory,
    MembershipFactory,
    SchoolClassFactory,
    SchoolFactory,
)
from tests.grading.test_access import ROLES
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

RULES = ["grading.past_class_grades", "grading.past_class_grade_changes", "grading.past_class_enrollments"]
NOW = datetime.datetime(2027, 7, 1, 12, tzinfo=datetime.UTC)


def _class_with_grades(school: School, *, ends_on: datetime.date | None, students: int = 2) -> SchoolClass:
    """A class with an assignment, ``students`` students enrolled and graded, one grade changed (two audit rows
    each), and a report download."""
    school_class = SchoolClassFactory(school=school)
    assignment = AssignmentFactory(school_class=school_class)
    for number in range(1, students + 1):
        student = UserFactory(email="", verified_email=False)
        EnrollmentFactory(school_class=school_class, student=student, number=number)
        GradeFactory(assignment=assignment, student=student, score=Decimal("15"))
        for action in ("created", "updated"):
            GradeAudit.objects.create(
                assignment=assignment, student=student, action=action, new_score=Decimal("15"), changed_at=NOW
            )
    GradeExport.objects.create(teacher=school_class.teacher, assignment=assignment, format="csv", row_count=students)
    SchoolClass.objects.filter(pk=school_class.pk).update(ends_on=ends_on)  # the service refuses a past end
    return school_class


def _held(school_class: SchoolClass) -> dict[str, int]:
    return {
        "grades": Grade.objects.filter(assignment__school_class=school_class).count(),
        "grade_changes": GradeAudit.objects.filter(assignment__school_class=school_class).count(),
        "enrollments": Enrollment.objects.filter(school_class=school_class).count(),
    }


def test_the_rules_delete_exactly_the_grades_of_classes_ended_longer_ago_than_their_schools_period() -> None:
    yearly = SchoolFactory(grade_retention_months=12)
    quarterly = SchoolFactory(grade_retention_months=3)
    today = NOW.date()
    expired = [
        _class_with_grades(yearly, ends_on=datetime.date(2026, 6, 30)),  # 12 months + 1 day ago
        _class_with_grades(quarterly, ends_on=datetime.date(2027, 3, 1), students=3),  # 4 months ago
        _class_with_grades(quarterly, ends_on=datetime.date(2027, 4, 1)),  # exactly 3 months ago: today is the day
    ]
    kept = [
        _class_with_grades(yearly, ends_on=datetime.date(2027, 3, 1)),  # 4 months ago: the yearly school keeps it
        _class_with_grades(yearly, ends_on=datetime.date(2026, 7, 2)),  # its day is tomorrow
        _class_with_grades(quarterly, ends_on=datetime.date(2027, 4, 2)),  # its day is tomorrow
        _class_with_grades(quarterly, ends_on=None),  # no end
        _class_with_grades(yearly, ends_on=today + datetime.timedelta(days=30)),  # not ended
    ]
    # presence first: every class holds its grades, their history and its students
    for school_class in expired + kept:
        assert all(_held(school_class).values())
    expected = {
        "grading.past_class_grades": set(
            Grade.objects.filter(assignment__school_class__in=expired).values_list("pk", flat=True)
        ),
        "grading.past_class_grade_changes": set(
            GradeAudit.objects.filter(assignment__school_class__in=expired).values_list("pk", flat=True)
        ),
        "grading.past_class_enrollments": set(
            Enrollment.objects.filter(school_class__in=expired).values_list("pk", flat=True)
        ),
    }
    assert [len(v) for v in expected.values()] == [7, 14, 7]

    dry = {o.rule.name: o for o in privacy_services.retention_apply(now=NOW, dry_run=True, rules=RULES)}
    assert {name: set(o.pks) for name, o in dry.items()} == expected
    assert all(_held(c)["grades"] for c in expired)  # the dry run deleted nothing

    real = {o.rule.name: o.count for o in privacy_services.retention_apply(now=NOW, rules=RULES, batch_size=2)}

    assert real == {name: o.count for name, o in dry.items()} == {name: len(v) for name, v in expected.items()}
    for school_class in expired:
        assert _held(school_class) == {"grades": 0, "grade_changes": 0, "enrollments": 0}
    for school_class in kept:
        assert _held(school_class) == {"grades": 2, "grade_changes": 4, "enrollments": 2}
    # the classes, their assignments and the teachers' download log stay
    assert SchoolClass.objects.filter(pk__in=[c.pk for c in expired]).count() == 3
    assert Assignment.objects.filter(school_class__in=expired).count() == 3
    assert GradeExport.objects.filter(assignment__school_class__in=expired).count() == 3
    assert all(o.count == 0 for o in privacy_services.retention_apply(now=NOW, rules=RULES))  # idempotent


def test_a_schools_period_change_moves_the_day_its_grades_are_deleted() -> None:
    school = SchoolFactory()
    school_class = _class_with_grades(school, ends_on=datetime.date(2027, 1, 15))
    assert school.grade_retention_months == GRADE_RETENTION_MONTHS_DEFAULT
    assert retention.past_class_grades_expired(NOW).count() == 0  # 12 months: January 2028
    School.objects.filter(pk=school.pk).update(grade_retention_months=5)
    assert retention.past_class_grades_expired(NOW).count() == 2  # 5 months: 15 June 2027
    school_class.refresh_from_db()
    assert retention.grades_deleted_on(school_class) == datetime.date(2027, 6, 15)


@pytest.mark.parametrize(
    ("ends_on", "months", "deleted_on"),
    [
        (datetime.date(2027, 1, 31), 1, datetime.date(2027, 2, 28)),
        (datetime.date(2028, 1, 31), 1, datetime.date(2028, 2, 29)),
        (datetime.date(2026, 8, 31), 6, datetime.date(2027, 2, 28)),
        (datetime.date(2026, 12, 20), 12, datetime.date(2027, 12, 20)),
        (datetime.date(2026, 11, 30), 120, datetime.date(2036, 11, 30)),
    ],
)
def test_the_page_and_the_rule_count_months_the_same_way(
    ends_on: datetime.date, months: int, deleted_on: datetime.date
) -> None:
    school_class = _class_with_grades(SchoolFactory(grade_retention_months=months), ends_on=ends_on, students=1)
    school_class = SchoolClass.objects.select_related("school").get(pk=school_class.pk)
    assert retention.grades_deleted_on(school_class) == deleted_on
    day_before = datetime.datetime.combine(deleted_on - datetime.timedelta(days=1), datetime.time(12), datetime.UTC)
    on_the_day = datetime.datetime.combine(deleted_on, datetime.time(12), datetime.UTC)
    assert not retention.past_class_grades_expired(day_before).exists()
    assert retention.past_class_grades_expired(on_the_day).count() == 1


def test_the_rules_are_on_the_retention_page_and_in_the_privacy_policy(client: Any) -> None:
    for url in (reverse("privacy:retention"), reverse("privacy_policy")):
        page = client.get(url).content.decode()
        assert "Grades of a school&#x27;s past classes" in page, url
        assert "The history of changes to those grades" in page
        assert "grade retention period has passed since the class ended: 12 months" in page


def test_the_teacher_sees_when_the_grades_will_be_deleted_and_sets_the_end(world: World) -> None:
    client = world.client("teacher")
    gradebook = reverse("grading:gradebook", args=[world.school_class.pk])
    assert "This class has no end date yet" in client.get(gradebook).content.decode()

    ends_on = timezone.localdate() + datetime.timedelta(days=40)
    response = client.post(
        reverse("grading:class_end", args=[world.school_class.pk]), {"ends_on": ends_on.isoformat()}, follow=True
    )
    world.school_class.refresh_from_db()
    assert world.school_class.ends_on == ends_on
    deleted_on = retention.add_months(ends_on, GRADE_RETENTION_MONTHS_DEFAULT)
    page = response.content.decode()
    assert "will be deleted on " + formats.date_format(deleted_on) in page
    assert "Your school keeps the grades of a class for 12 months after it ends." in page

    client.post(reverse("grading:class_end", args=[world.school_class.pk]), {"archive": "1", "from": "students"})
    world.school_class.refresh_from_db()
    assert world.school_class.ends_on == timezone.localdate()
    students_page = client.get(reverse("grading:class_students", args=[world.school_class.pk])).content.decode()
    assert "will be deleted on " + formats.date_format(retention.add_months(timezone.localdate(), 12)) in students_page
    assert "Archive the class (it ends today)" not in students_page  # archived: nothing left to archive


def test_a_class_cannot_end_in_the_past(world: World) -> None:
    client = world.client("teacher")
    response = client.post(
        reverse("grading:class_end", args=[world.school_class.pk]),
        {"ends_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat()},
        follow=True,
    )
    assert "A class cannot end in the past" in response.content.decode()
    world.school_class.refresh_from_db()
    assert world.school_class.ends_on is None


def test_once_the_grades_are_deleted_the_page_says_so_and_the_end_no_longer_changes(world: World) -> None:
    ended = timezone.localdate() - datetime.timedelta(days=400)
    SchoolClass.objects.filter(pk=world.school_class.pk).update(ends_on=ended)
    privacy_services.retention_apply(rules=RULES)
    assert not Grade.objects.filter(assignment__school_class=world.school_class).exists()
    page = world.client("teacher").get(reverse("grading:gradebook", args=[world.school_class.pk])).content.decode()
    assert "were deleted on " + formats.date_format(retention.add_months(ended, 12)) in page
    with pytest.raises(Exception, match="can no longer change"):
        services.class_end_set(actor=world.teacher, school_class=world.school_class, ends_on=None)


def _foreign_admin(world: World) -> Any:
    admin = UserFactory()
    MembershipFactory(school=world.other_school, user=admin, role=SchoolMembership.Role.ADMIN)
    return admin


def _state(world: World) -> tuple[Any, ...]:
    return (
        sorted(School.objects.values_list("pk", "grade_retention_months")),
        sorted(SchoolClass.objects.values_list("pk", "ends_on")),
    )


@pytest.mark.parametrize("role", [*ROLES, "foreign_admin"])
def test_only_the_schools_administrators_see_and_set_its_grade_retention(world: World, role: str) -> None:
    if role == "foreign_admin":
        client = world.client("anonymous")
        sign_in(client, _foreign_admin(world))
    else:
        client = world.client(role)
    url = reverse("grading:school_grade_retention", args=[world.school.pk])
    before = _state(world)
    page = client.get(url)
    changed = client.post(url, {"months": "24"})
    archived = client.post(url, {"archive": str(world.school_class.pk)})
    ended = client.post(reverse("grading:class_end", args=[world.school_class.pk]), {"archive": "1"})
    after = _state(world)
    if role == "admin":
        assert page.status_code == 200
        assert "Year 6 Science" in page.content.decode()
        assert (changed.status_code, archived.status_code) == (302, 302)
        world.school.refresh_from_db()
        world.school_class.refresh_from_db()
        assert world.school.grade_retention_months == 24
        assert world.school_class.ends_on == timezone.localdate()
        assert ended.status_code == 404  # the class's own page is its teacher's
        return
    if role == "teacher":  # the class's teacher ends the class, and nothing of the school's
        assert ended.status_code == 302
        assert (page.status_code, changed.status_code, archived.status_code) == (404, 404, 404)
        world.school_class.refresh_from_db()
        assert world.school_class.ends_on == timezone.localdate()
        assert after[0] == before[0]
        return
    expected = 302 if role == "anonymous" else 404
    assert {page.status_code, changed.status_code, archived.status_code, ended.status_code} == {expected}
    assert after == before


@pytest.mark.parametrize("months", ["0", "121", "twelve", ""])
def test_the_period_stays_within_its_bounds(world: World, months: str) -> None:
    response = world.client("admin").post(
        reverse("grading:school_grade_retention", args=[world.school.pk]), {"months": months}
    )
    assert response.status_code == 400
    world.school.refresh_from_db()
    assert world.school.grade_retention_months == GRADE_RETENTION_MONTHS_DEFAULT


def test_another_schools_class_cannot_be_ended_from_this_schools_page(world: World) -> None:
    foreign = SchoolClassFactory(school=world.other_school)
    response = world.client("admin").post(
        reverse("grading:school_grade_retention", args=[world.school.pk]), {"archive": str(foreign.pk)}
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.ends_on is None


def test_a_roster_gives_its_classes_the_end_of_their_terms_where_nobody_chose_one() -> None:
    ends = retention.class_ends_from_roster(
        classes=[("c1", ("fall", "spring")), ("c2", ("undated",)), ("c3", ()), ("c4", ("fall",))],
        sessions=[("fall", "2027-01-31"), ("spring", "2027-06-30"), ("undated", "soon")],
    )
    assert ends == {"c1": datetime.date(2027, 6, 30), "c4": datetime.date(2027, 1, 31)}

    school, other = SchoolFactory(), SchoolFactory()
    rostered = SchoolClassFactory(school=school, roster_sourced_id="c1")
    chosen = SchoolClassFactory(school=school, roster_sourced_id="c4", ends_on=datetime.date(2027, 2, 14))
    elsewhere = SchoolClassFactory(school=other, roster_sourced_id="c1")
    assert services.class_ends_from_roster_set(school=school, ends=ends) == 1
    for school_class in (rostered, chosen, elsewhere):
        school_class.refresh_from_db()
    assert rostered.ends_on == datetime.date(2027, 6, 30)
    assert chosen.ends_on == datetime.date(2027, 2, 14)  # the teacher's choice stays
    assert elsewhere.ends_on is None


def test_the_retention_section_is_drawn_once_per_state_and_given_each_requests_csrf_token(world: World) -> None:
    """``{% class_retention %}`` is remembered per class, page, state, language and time zone, and each request
    gets its own CSRF token in it: the same HTML as the template drawn for every request (as the inclusion tag
    it replaced drew it)."""
    from django.template import Context, Template
    from django.template.loader import render_to_string
    from django.test import RequestFactory
    from django.test.signals import template_rendered
    from django.utils import translation

    from grading.forms import ClassEndForm
    from grading.templatetags import grading as grading_tags

    grading_tags._RETENTION_SECTIONS.clear()
    drawn: list[str] = []

    def count(sender: Any, template: Any, **kwargs: Any) -> None:
        if template.name == "grading/_class_retention.html":
            drawn.append(template.name)

    template_rendered.connect(count)
    tag = Template("{% load grading %}{% class_retention school_class page=page %}")
    today = timezone.localdate()
    try:
        for ends_on in (None, today + datetime.timedelta(days=30), today - datetime.timedelta(days=800)):
            SchoolClass.objects.filter(pk=world.school_class.pk).update(ends_on=ends_on)
            school_class = SchoolClass.objects.select_related("school").get(pk=world.school_class.pk)
            for language in ("en", "de"):
                for page in ("gradebook", "students"):
                    drawn.clear()
                    with translation.override(language):
                        for token in ("a" * 64, "b" * 64):
                            request = RequestFactory().get("/")
                            html = tag.render(
                                Context({"school_class": school_class, "page": page, "csrf_token": token})
                            )
                            expected = render_to_string(
                                "grading/_class_retention.html",
                                {
                                    "school_class": school_class,
                                    "info": retention.class_retention(school_class),
                                    "form": ClassEndForm(initial={"ends_on": school_class.ends_on}),
                                    "page": page,
                                    "csrf_token": token,
                                },
                                request,
                            )
                            assert html == expected
                            assert (f'value="{token}"' in html) == (ends_on != today - datetime.timedelta(days=800))
                    assert len(drawn) == 3  # the tag drew it for the first request only; the expectation twice
    finally:
        template_rendered.disconnect(count)
