"""Where higher apps take part in the schools' work (see mindomo.hooks): they register in their ``ready()``.

Consent records the school's consent for a student the school registers and keeps the parents' addresses;
grading ends a departing student's enrolments in the school's classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from mindomo.hooks import Hook

# students_registered(*, children, school, actor, guardian_emails) -> None: the school registered ``children`` (one or
# a batch); consent records the school's consent (method "school") and the parents' addresses given
# (``guardian_emails[i]`` for ``children[i]``), set-based, in the caller's transaction.
students_registered: Hook[Callable[..., None]] = Hook("schools.students_registered", single=True)
# guardian_emails_clean(emails) -> the addresses, cleaned; raises ValidationError naming what is wrong.
guardian_emails_clean: Hook[Callable[[Iterable[str]], list[str]]] = Hook("schools.guardian_emails_clean", single=True)
# guardians_set(*, child, school, actor, emails) -> the parents' addresses now recorded for a registered student.
guardians_set: Hook[Callable[..., list[str]]] = Hook("schools.guardians_set", single=True)
# student_left(*, school, student_id) -> None: a student with their own account left the school's roster.
student_left: Hook[Callable[..., Any]] = Hook("schools.student_left")
# guardians_by_child(*, child_ids) -> {child id: [addresses]}: the parents' addresses schools recorded.
guardians_by_child: Hook[Callable[..., dict[int, list[str]]]] = Hook("schools.guardians_by_child", single=True)
# roster_classes(*, school, roster, org_id, user_ids, apply) -> [(kind, label)]: grading's part of a OneRoster sync
# (classes and enrolments). ``apply`` False: what would change; True: write it (in the caller's transaction).
# ``user_ids`` maps the people's sourcedIds to accounts (new people only once they exist).
roster_classes: Hook[Callable[..., list[tuple[str, str]]]] = Hook("schools.roster_classes", single=True)


def record_students(
    *, children: Sequence[Any], school: Any, actor: Any, guardian_emails: Sequence[Iterable[str]] = ()
) -> None:
    students_registered.implementation()(
        children=children, school=school, actor=actor, guardian_emails=[tuple(e) for e in guardian_emails]
    )


def clean_guardian_emails(emails: Iterable[str]) -> list[str]:
    return guardian_emails_clean.implementation()(emails)


def set_guardians(*, child: Any, school: Any, actor: Any, emails: Iterable[str]) -> list[str]:
    return guardians_set.implementation()(child=child, school=school, actor=actor, emails=emails)


def left(*, school: Any, student_id: int) -> None:
    for hook in student_left:
        hook(school=school, student_id=student_id)


def guardians_of(*, child_ids: list[int]) -> dict[int, list[str]]:
    return guardians_by_child.implementation()(child_ids=child_ids)


def classes_sync(
    *, school: Any, roster: Any, org_id: str, user_ids: dict[str, int], apply: bool
) -> list[tuple[str, str]]:
    return roster_classes.implementation()(school=school, roster=roster, org_id=org_id, user_ids=user_ids, apply=apply)
