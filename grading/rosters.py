"""Grading's part of a OneRoster sync (``schools.hooks.roster_classes``): the school's classes and enrolments.

A class is matched by its sourcedId. A class no longer in the file (or ``tobedeleted``) is not deleted: it keeps
its assignments and grades, its enrolments end and it is no longer linked to the roster. An enrolment is
(class, student): added when the file has it, ended when it does not. The class's teacher is the enrolment's
primary teacher (or its first), when that person is matched to an account; otherwise the teacher stays.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.utils.translation import gettext as _

from schools.models import School, SchoolMembership

from . import retention, services
from .models import Enrollment, SchoolClass


def _person_name(roster: Any, sourced_id: str) -> str:
    person = roster.people.get(sourced_id)
    return f"{person.given_name} {person.family_name}" if person else sourced_id


def _sync_classes(
    school: School, roster: Any, org_id: str, user_ids: dict[str, int], apply: bool, changes: list[tuple[str, str]]
) -> tuple[dict[str, SchoolClass], dict[str, Any]]:
    linked = {c.roster_sourced_id: c for c in SchoolClass.objects.filter(school=school).exclude(roster_sourced_id="")}
    wanted = {sid: c for sid, c in roster.classes.items() if c.active and c.school == org_id}
    teachers = set(
        SchoolMembership.objects.filter(school=school, role=SchoolMembership.Role.TEACHER).values_list(
            "user_id", flat=True
        )
    )
    # teachers the file matches to accounts become the school's teachers in the same import
    teachers |= {user_ids[sid] for sid, p in roster.people.items() if p.role == "teacher" and sid in user_ids}
    for sid, klass in wanted.items():
        teacher_id = user_ids.get(roster.primary_teachers.get(sid, ""))
        teacher_id = teacher_id if teacher_id in teachers else None
        current = linked.get(sid)
        if current is None:
            changes.append(("add:class", klass.title))
            if apply:
                name = klass.title
                if SchoolClass.objects.filter(school=school, teacher_id=teacher_id, name=name).exists():
                    name = f"{klass.title} ({sid})"[:120]
                linked[sid] = SchoolClass.objects.create(
                    school=school, teacher_id=teacher_id, name=name, roster_sourced_id=sid
                )
            continue
        fields = []
        if current.name != klass.title and not current.name.startswith(f"{klass.title} ("):
            current.name = klass.title
            fields.append("name")
        if teacher_id is not None and current.teacher_id != teacher_id:
            current.teacher_id = teacher_id
            fields.append("teacher")
        if fields:
            changes.append(("change:class", klass.title))
            if apply:
                current.save(update_fields=fields)
    for sid, current in linked.items():
        if sid not in wanted:
            changes.append(
                ("remove:class", _("%(name)s (kept with its grades; its enrolments end)") % {"name": current.name})
            )
            if apply:
                Enrollment.objects.filter(school_class=current).delete()
                current.roster_sourced_id = ""
                current.save(update_fields=["roster_sourced_id"])
    return linked, wanted


def _sync_enrolments(
    roster: Any,
    linked: dict[str, SchoolClass],
    wanted: dict[str, Any],
    user_ids: dict[str, int],
    apply: bool,
    changes: list[tuple[str, str]],
) -> None:
    """Students' enrolments in the classes still linked to the roster: added, or ended when the file lacks them."""
    class_ids = {sid: c.pk for sid, c in linked.items() if sid in wanted and c.pk}
    wanted_pairs = {(c, u) for (c, u), role in roster.enrollments.items() if role == "student" and c in wanted}
    existing = {
        (class_id, student_id): f"{first} {last}"
        for class_id, student_id, first, last in Enrollment.objects.filter(
            school_class_id__in=class_ids.values()
        ).values_list("school_class_id", "student_id", "student__first_name", "student__last_name")
    }
    seen: set[tuple[int, int]] = set()
    new_rows: dict[int, list[int]] = {}
    for class_sid, user_sid in sorted(wanted_pairs):
        key = (class_ids.get(class_sid) or 0, user_ids.get(user_sid) or 0)
        if key in existing:
            seen.add(key)
            continue
        changes.append(("add:enrolment", f"{_person_name(roster, user_sid)} → {wanted[class_sid].title}"))
        if all(key):
            new_rows.setdefault(key[0], []).append(key[1])
    gone = [key for key in existing if key not in seen]
    names = dict(SchoolClass.objects.filter(pk__in={c for c, _u in gone}).values_list("pk", "name")) if gone else {}
    for class_id, student_id in gone:
        changes.append(("remove:enrolment", f"{existing[(class_id, student_id)]} → {names.get(class_id, '')}"))
        if apply:
            Enrollment.objects.filter(school_class_id=class_id, student_id=student_id).delete()
    if apply:
        for class_id, students in new_rows.items():
            top = Enrollment.objects.filter(school_class_id=class_id).aggregate(top=Max("number"))["top"] or 0
            Enrollment.objects.bulk_create(
                [
                    Enrollment(school_class_id=class_id, student_id=sid, number=top + i)
                    for i, sid in enumerate(students, start=1)
                ]
            )


def roster_classes_sync(
    *, school: School, roster: Any, org_id: str, user_ids: dict[str, int], apply: bool
) -> list[tuple[str, str]]:
    """``schools.hooks.roster_classes``: what changes (``apply`` False) or the writes themselves (True)."""
    changes: list[tuple[str, str]] = []
    linked, wanted = _sync_classes(school, roster, org_id, user_ids, apply, changes)
    _sync_enrolments(roster, linked, wanted, user_ids, apply, changes)
    if apply:
        # each rostered class without an end gets its terms' last day: its grades then follow the school's
        # retention period from it (an end a teacher or an administrator chose stays)
        ends = retention.class_ends_from_roster(
            classes=[(c.sourced_id, c.terms) for c in roster.classes.values() if c.school == org_id and c.active],
            sessions=roster.session_ends.items(),
        )
        services.class_ends_from_roster_set(school=school, ends=ends)
    return changes
