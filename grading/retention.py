"""How long the grades of a school's past classes are kept: the school's declared period after the class ends.

A class ends on ``SchoolClass.ends_on`` (set by its teacher or a school administrator; "archive" ends it today).
Its grades, their change history and its list of students are deleted by the retention engine (the rules in
``grading.privacy``) on the day ``ends_on + School.grade_retention_months``. The same date is computed here in
Python (for the pages) and in SQL (for the rules) with the same calendar: PostgreSQL's ``date + interval 'n
months'``, which keeps the day of the month or takes the month's last day (31 January + 1 month = 28 February).
"""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import DateField, F, Func, QuerySet
from django.utils import timezone

from .models import Assignment, Enrollment, Grade, GradeAudit, SchoolClass

# The deletion day of a class's grades, in SQL: the class's end plus its school's period.
GRADES_DELETED_ON = Func(
    F("ends_on"),
    Func(F("school__grade_retention_months"), template="make_interval(months => %(expressions)s)"),
    template="(%(expressions)s)::date",
    arg_joiner=" + ",
    output_field=DateField(),
)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus ``months`` calendar months, the day clamped to the month's last (as PostgreSQL does)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def grades_deleted_on(school_class: SchoolClass) -> datetime.date | None:
    """The day the class's grades are deleted (None while the class has no end). Reads ``school_class.school``:
    select it with the class."""
    if school_class.ends_on is None:
        return None
    return add_months(school_class.ends_on, school_class.school.grade_retention_months)


def classes_past_grade_retention(now: datetime.datetime) -> QuerySet[SchoolClass]:
    """Classes whose grades are due for deletion at ``now``: ended, and their school's period over."""
    today = timezone.localdate(now)
    return (
        SchoolClass.objects.filter(ends_on__isnull=False, ends_on__lte=today)
        .alias(grades_deleted_on=GRADES_DELETED_ON)
        .filter(grades_deleted_on__lte=today)
    )


def _assignments_past_grade_retention(now: datetime.datetime) -> QuerySet[Assignment, Any]:
    return Assignment.objects.filter(school_class__in=classes_past_grade_retention(now)).values("pk")


# The rules walk each table's primary key (their batches in keyset order on it), the rows chosen by a semi-join on
# the few classes past their period (the partial index grading_class_ended).
def past_class_grades_expired(now: datetime.datetime) -> QuerySet[Grade]:
    return Grade.objects.filter(assignment_id__in=_assignments_past_grade_retention(now))


def past_class_grade_changes_expired(now: datetime.datetime) -> QuerySet[GradeAudit]:
    return GradeAudit.objects.filter(assignment_id__in=_assignments_past_grade_retention(now))


def past_class_enrollments_expired(now: datetime.datetime) -> QuerySet[Enrollment]:
    return Enrollment.objects.filter(school_class__in=classes_past_grade_retention(now))


def class_retention(school_class: SchoolClass, *, today: datetime.date | None = None) -> dict[str, Any]:
    """What a page says about the class's grades: its end, the deletion day, whether it has passed."""
    today = today or timezone.localdate()
    deleted_on = grades_deleted_on(school_class)
    return {
        "ends_on": school_class.ends_on,
        "ended": school_class.ends_on is not None and school_class.ends_on < today,
        "ends_by_today": school_class.ends_on is not None and school_class.ends_on <= today,
        "grades_deleted_on": deleted_on,
        "grades_deleted": deleted_on is not None and deleted_on <= today,
        "months": school_class.school.grade_retention_months,
    }


def class_ends_from_roster(
    *, classes: Iterable[tuple[str, Sequence[str]]], sessions: Iterable[tuple[str, str]]
) -> dict[str, datetime.date]:
    """{class sourcedId: its last day} from a OneRoster export: each class's ``termSourcedIds`` (classes.csv) and
    each academic session's ``endDate`` (academicSessions.csv, an ISO date): the latest end among the class's
    terms. A class whose terms are unknown or undated is left out; an unreadable date is ignored.

    For the roster import (schools.roster), which reads these columns but keeps nothing of them today: it passes
    them here and hands the result to ``grading.services.class_ends_from_roster_set``."""
    ends: dict[str, datetime.date] = {}
    for sourced_id, end in sessions:
        try:
            ends[sourced_id] = datetime.date.fromisoformat(end.strip()[:10])
        except ValueError:
            continue
    result: dict[str, datetime.date] = {}
    for class_id, terms in classes:
        known = [ends[term] for term in terms if term in ends]
        if known:
            result[class_id] = max(known)
    return result
