"""One parametrized access matrix: every role against every grading page and action, and the school's roster
import, sign-in domain and join-request answer pages (schools app: only the school's administrators).

Allowed: the action works. Not allowed: 404 for a signed-in user (exactly like a page that does not
exist), the sign-in page for an anonymous visitor, and nothing in the database changed.
Staff roles are the groups of privacy/roles.py (a privacy officer sees a grade only in the admin, logged:
see the tests at the end). Parents have no account session: their roles (the student's parent through the
portal, another parent) are in test_parent_portal.py; "adult" here is an unrelated signed-in member.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from consent.models import ConsentRecord
from grading.models import (
    Assignment,
    Enrollment,
    Grade,
    GradeAudit,
    GradeExport,
    ReportNoticeAcknowledgement,
    SchoolClass,
)
from grading.services import REPORT_NOTICE_VERSION
from mindomo.downloads.models import PreparedFile
from schools.models import RosterImport, SchoolDomain, SchoolMembership, TeacherInvitation, TeacherJoinRequest
from tests.grading.conftest import SECRET_FEEDBACK, World

ROLES = [
    "teacher",  # the teacher of the class
    "other_teacher",  # another teacher of the same school
    "foreign_teacher",  # a teacher of another school
    "student",  # the graded student
    "other_student",  # another student of the class
    "admin",  # the school administrator
    "adult",  # an unrelated adult member
    "superuser",  # staff superuser, not in the privacy-officer role
    "support",  # staff roles (privacy/roles.py): none sees grades through these pages
    "billing_clerk",
    "privacy_officer",  # sees grades only in the staff admin, each view logged (test_staff_admin.py)
    "staff_without_role",
    "anonymous",
]
ROSTER = {"teacher", "other_teacher", "admin"}


def snapshot(w: World) -> dict[str, Any]:
    w.student.refresh_from_db()
    return {
        "grades": sorted(Grade.objects.values_list("student_id", "assignment_id", "score", "feedback")),
        "audits": GradeAudit.objects.count(),
        "exports": GradeExport.objects.count(),
        "acks": ReportNoticeAcknowledgement.objects.exclude(teacher__in=_pre_acked).count(),
        "assignments": Assignment.objects.count(),
        "enrollments": Enrollment.objects.count(),
        "classes": SchoolClass.objects.count(),
        "users": User.objects.count(),
        "memberships": SchoolMembership.objects.count(),
        "consents": ConsentRecord.objects.count(),
        "invitations": TeacherInvitation.objects.count(),
        "roster_imports": sorted(RosterImport.objects.values_list("pk", "state")),
        "join_requests": sorted(TeacherJoinRequest.objects.values_list("pk", "status")),
        "student_password": w.student.password,
        # login cards are a background job: an allowed POST asks for it (the job changes the password)
        "prepared_files": PreparedFile.objects.count(),
    }


_pre_acked: list[int] = []


@dataclass
class Action:
    method: str
    url: Callable[[World], str]
    allowed: set[str]
    data: Callable[[World, str], dict[str, Any]] = field(default=lambda w, r: {})
    changes: tuple[str, ...] = ()  # snapshot keys an allowed POST changes
    shows_secret: bool = False  # an allowed GET shows the grade's feedback
    denied_status: int = 404  # a page every signed-in user has (their own list) answers 200 without the grade


ACTIONS: dict[str, Action] = {
    "gradebook": Action(
        "get", lambda w: reverse("grading:gradebook", args=[w.school_class.pk]), {"teacher"}, shows_secret=True
    ),
    "gradebook_save": Action(
        "post",
        lambda w: reverse("grading:gradebook", args=[w.school_class.pk]),
        {"teacher"},
        data=lambda w, r: {
            "save_all": "1",
            f"score-{w.student.pk}-{w.assignment.pk}": "3",
            f"feedback-{w.student.pk}-{w.assignment.pk}": "Changed",
        },
        changes=("grades", "audits"),
    ),
    "assignment_create": Action(
        "post",
        lambda w: reverse("grading:assignment_create", args=[w.school_class.pk]),
        {"teacher"},
        data=lambda w, r: {"title": "Quiz", "due_date": "2026-12-10", "max_score": "10"},
        changes=("assignments",),
    ),
    "class_students": Action("get", lambda w: reverse("grading:class_students", args=[w.school_class.pk]), {"teacher"}),
    "enroll": Action(
        "post",
        lambda w: reverse("grading:class_students", args=[w.school_class.pk]),
        {"teacher"},
        data=lambda w, r: {"students": [w.newcomer.pk]},
        changes=("enrollments",),
    ),
    "class_create": Action(
        "post",
        lambda w: reverse("grading:class_list"),
        {"teacher", "other_teacher", "foreign_teacher"},
        data=lambda w, r: {"school": (w.other_school if r == "foreign_teacher" else w.school).pk, "name": "New class"},
        changes=("classes",),
    ),
    "report": Action("get", lambda w: reverse("grading:assignment_report", args=[w.assignment.pk]), {"teacher"}),
    "report_acknowledge": Action(
        "post",
        lambda w: reverse("grading:assignment_report", args=[w.assignment.pk]),
        {"teacher"},
        data=lambda w, r: {"acknowledge": "on"},
        changes=("acks",),
    ),
    "download_csv": Action(
        "get",
        lambda w: reverse("grading:assignment_download", args=[w.assignment.pk, "csv"]),
        {"teacher"},
        changes=("exports",),
        shows_secret=True,
    ),
    "download_xlsx": Action(
        "get",
        lambda w: reverse("grading:assignment_download", args=[w.assignment.pk, "xlsx"]),
        {"teacher"},
        changes=("exports",),
    ),
    # a report too large to stream as XLSX: a background job is asked for (mindomo.downloads)
    "download_xlsx_prepared": Action(
        "post",
        lambda w: reverse("grading:assignment_prepare", args=[w.assignment.pk]),
        {"teacher"},
        changes=("prepared_files",),
    ),
    "my_grades": Action(
        "get", lambda w: reverse("grading:my_grades"), {"student"}, shows_secret=True, denied_status=200
    ),
    "roster": Action("get", lambda w: reverse("grading:school_roster", args=[w.school.pk]), ROSTER),
    "student_add": Action(
        "post",
        lambda w: reverse("grading:student_add", args=[w.school.pk]),
        ROSTER,
        data=lambda w, r: {"first_name": "Ada", "last_name": "Byron", "username": ""},
        changes=("users", "memberships", "consents"),
    ),
    "student_import": Action(
        "post",
        lambda w: reverse("grading:student_import", args=[w.school.pk]),
        ROSTER,
        data=lambda w, r: {"file": _csv_upload()},
        changes=("users", "memberships", "consents"),
    ),
    "login_cards": Action(
        "post",
        lambda w: reverse("grading:login_cards", args=[w.school.pk]),
        ROSTER,
        data=lambda w, r: {"students": [w.student.pk]},
        changes=("prepared_files",),
    ),
    "teacher_invite": Action(
        "post",
        lambda w: reverse("grading:teacher_invite", args=[w.school.pk]),
        {"admin"},
        data=lambda w, r: {"email": "new.teacher@example.org"},
        changes=("invitations",),
    ),
    "roster_upload": Action("get", lambda w: reverse("schools:roster_upload", args=[w.school.pk]), {"admin"}),
    "roster_upload_post": Action(
        "post",
        lambda w: reverse("schools:roster_upload", args=[w.school.pk]),
        {"admin"},
        data=lambda w, r: {"file": _roster_upload()},
        changes=("roster_imports",),
    ),
    "roster_import_page": Action(
        "get", lambda w: reverse("schools:roster_import", args=[w.school.pk, _previewed(w).pk]), {"admin"}
    ),
    "roster_import_confirm": Action(
        "post",
        lambda w: reverse("schools:roster_import", args=[w.school.pk, _previewed(w).pk]),
        {"admin"},
        data=lambda w, r: {"confirm_erase": "on"},
        changes=("roster_imports",),
    ),
    "roster_import_cancel": Action(
        "post",
        lambda w: reverse("schools:roster_cancel", args=[w.school.pk, _previewed(w).pk]),
        {"admin"},
        changes=("roster_imports",),
    ),
    "domains": Action("get", lambda w: reverse("schools:domains", args=[w.school.pk]), {"admin"}),
    "join_approve": Action(
        "post",
        lambda w: reverse("schools:join_answer", args=[w.school.pk, _join_request(w).pk]),
        {"admin"},
        data=lambda w, r: {"answer": "approve"},
        changes=("join_requests", "users", "memberships"),
    ),
    "join_decline": Action(
        "post",
        lambda w: reverse("schools:join_answer", args=[w.school.pk, _join_request(w).pk]),
        {"admin"},
        data=lambda w, r: {"answer": "decline"},
        changes=("join_requests",),
    ),
    "roster_import_retry": Action(
        "post",
        lambda w: reverse("schools:roster_retry", args=[w.school.pk, _interrupted(w).pk]),
        {"admin"},
        changes=("roster_imports",),
    ),
    "teacher_remove": Action(
        "post",
        lambda w: reverse("grading:teacher_remove", args=[w.school.pk, w.other_teacher.pk]),
        {"admin"},
        changes=("memberships",),
    ),
}


def _previewed(w: World) -> RosterImport:
    """The school's previewed roster import (made by the fixture below, before the snapshot)."""
    return RosterImport.objects.get(school=w.school, summary__marker="access-matrix")


def _interrupted(w: World) -> RosterImport:
    """The school's import whose worker died (running, no progress for a day): "Try again" queues it."""
    return RosterImport.objects.get(school=w.school, summary__marker="access-matrix-interrupted")


@pytest.fixture(autouse=True)
def _a_previewed_roster_import(world: World, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    RosterImport.objects.create(
        school=world.school,
        uploaded_by=world.user("admin"),
        summary={"marker": "access-matrix", "add": [], "change": [], "remove": [], "erase": [], "notes": []},
    )
    RosterImport.objects.create(
        school=world.school,
        uploaded_by=world.user("admin"),
        state=RosterImport.State.RUNNING,
        heartbeat_at=timezone.now() - datetime.timedelta(days=1),
        summary={"marker": "access-matrix-interrupted", "add": [], "change": [], "remove": [], "erase": []},
    )


JOIN_EMAIL = "katherine.johnson@maple-grove.example"


def _join_request(w: World) -> TeacherJoinRequest:
    """The pending request to join the school as a teacher (made by the fixture below, before the snapshot)."""
    return TeacherJoinRequest.objects.get(school=w.school, email=JOIN_EMAIL)


@pytest.fixture(autouse=True)
def _a_pending_request_to_join_as_a_teacher(world: World) -> None:
    from django.utils import timezone

    domain = SchoolDomain.objects.create(
        school=world.school,
        domain="maple-grove.example",
        provider=SchoolDomain.Provider.GOOGLE,
        txt_token="t",
        verified_at=timezone.now(),
        verified_how="dns",
    )
    TeacherJoinRequest.objects.create(
        school=world.school, domain=domain, email=JOIN_EMAIL, first_name="Katherine", last_name="Johnson"
    )


@pytest.mark.parametrize("role", ROLES)
def test_pending_requests_to_join_are_shown_only_to_the_schools_administrators(world: World, role: str) -> None:
    response = world.client(role).get(reverse("grading:school_roster", args=[world.school.pk]))
    assert (JOIN_EMAIL.encode() in response.content) is (role == "admin")


def _roster_upload() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.schools.conftest import roster_zip

    return SimpleUploadedFile("roster.zip", roster_zip(), content_type="application/zip")


def _csv_upload() -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("students.csv", b"first_name,last_name\nGrace,Hopper\n", content_type="text/csv")


class _Rollback(Exception):
    pass


def _check(world: World, role: str, action_name: str) -> list[str]:
    """Run one action as one role; return what went wrong (empty when the rule held)."""
    action = ACTIONS[action_name]
    user = world.user(role)
    _pre_acked.clear()
    if user is not None and action_name.startswith("download"):
        # acknowledged the notice, so a refusal can only come from the access rule
        ReportNoticeAcknowledgement.objects.create(teacher=user, notice_version=REPORT_NOTICE_VERSION)
        _pre_acked.append(user.pk)
    before = snapshot(world)
    response = getattr(world.client(role), action.method)(action.url(world), action.data(world, role))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    after = snapshot(world)
    problems = []
    if role in action.allowed:
        if response.status_code not in (200, 302) or (response.status_code == 302 and "login" in response["Location"]):
            problems.append(f"allowed but answered {response.status_code}")
        problems += [f"allowed but {key} did not change" for key in action.changes if after[key] == before[key]]
        if action.shows_secret and SECRET_FEEDBACK.encode() not in body:
            problems.append("allowed but the grade is not shown")
        return problems
    if role == "anonymous":
        if not (response.status_code == 302 and reverse("account_login") in response["Location"]):
            problems.append(f"anonymous got {response.status_code}, not the sign-in page")
    elif response.status_code != action.denied_status:
        problems.append(f"refused with {response.status_code}, not {action.denied_status}")
    if after != before:
        problems.append(f"refused but changed {[k for k in after if after[k] != before[k]]}")
    if SECRET_FEEDBACK.encode() in body:
        problems.append("refused but the grade is shown")
    return problems


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(world: World, role: str, fast_hasher: None) -> None:
    """Every grading page and action for one role; each runs in its own rolled-back savepoint."""
    failures = {}
    for action_name in ACTIONS:
        try:
            with transaction.atomic():
                problems = _check(world, role, action_name)
                raise _Rollback
        except _Rollback:
            pass
        if problems:
            failures[action_name] = problems
    assert failures == {}


@pytest.mark.parametrize("role", ROLES)
def test_class_list_shows_only_own_classes(world: World, role: str) -> None:
    response = world.client(role).get(reverse("grading:class_list"))
    if role in {"teacher", "other_teacher", "foreign_teacher"}:
        assert response.status_code == 200
        assert (b"Year 6 Science" in response.content) is (role == "teacher")
    elif role == "anonymous":
        assert response.status_code == 302
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_export_history_lists_only_own_downloads(world: World, role: str) -> None:
    GradeExport.objects.create(teacher=world.teacher, assignment=world.assignment, format="csv", row_count=1)
    response = world.client(role).get(reverse("grading:export_history"))
    if role == "anonymous":
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert (b"Plant cells" in response.content) is (role == "teacher")


def test_refusal_looks_exactly_like_a_missing_page(world: World) -> None:
    client = world.client("other_teacher")
    refused = client.get(reverse("grading:gradebook", args=[world.school_class.pk]))
    missing = client.get(reverse("grading:gradebook", args=[world.school_class.pk + 10_000]))
    # the menu's sign-out form carries a CSRF token, masked afresh in every response
    unmask = re.compile(rb'name="csrfmiddlewaretoken" value="[^"]+"')
    assert refused.status_code == missing.status_code
    refused_lines = unmask.sub(b"", refused.content).decode().splitlines()
    missing_html = unmask.sub(b"", missing.content).decode()
    # pages that carry the address (the cookie banner's "next") differ only by the id asked for
    missing_html = missing_html.replace(f"/{world.school_class.pk + 10_000}/", f"/{world.school_class.pk}/")
    assert refused_lines == missing_html.splitlines()


def test_teacher_removed_from_school_loses_access(world: World) -> None:
    SchoolMembership.objects.filter(user=world.teacher, role=SchoolMembership.Role.TEACHER).delete()
    response = world.client("teacher").get(reverse("grading:gradebook", args=[world.school_class.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["superuser", "support", "billing_clerk", "staff_without_role", "teacher"])
def test_staff_without_the_privacy_officer_role_cannot_open_a_grade_in_the_admin(world: World, role: str) -> None:
    from privacy.models import AccessLog

    client = world.client(role)
    response = client.get(reverse("admin:grading_grade_change", args=[world.grade.pk]))
    assert response.status_code in (302, 403)
    listing = client.get(reverse("admin:grading_grade_changelist"))
    assert SECRET_FEEDBACK.encode() not in listing.content
    assert b"17.50" not in listing.content
    assert AccessLog.objects.count() == 0


def test_privacy_officer_opens_a_grade_and_the_view_is_logged(world: World) -> None:
    from privacy.models import AccessLog

    response = world.client("privacy_officer").get(reverse("admin:grading_grade_change", args=[world.grade.pk]))
    assert response.status_code == 200
    assert SECRET_FEEDBACK in response.content.decode()
    entry = AccessLog.objects.get()
    assert (entry.staff_id, entry.model, entry.object_id, entry.subject_id) == (
        world.privacy_officer.pk,
        "grading.Grade",
        str(world.grade.pk),
        world.student.pk,
    )


@pytest.mark.parametrize("role", ROLES)
def test_grade_selector_shows_a_grade_to_its_teacher_and_its_student_only(world: World, role: str) -> None:
    from django.contrib.auth.models import AnonymousUser

    from grading.selectors import grade_list_visible_to

    viewer = world.user(role) or AnonymousUser()
    visible = set(grade_list_visible_to(viewer=viewer).values_list("pk", flat=True))
    assert visible == ({world.grade.pk} if role in {"teacher", "student"} else set())


@pytest.mark.parametrize("role", [*ROLES, "former_teacher"])
def test_grade_selector_for_one_class_returns_what_the_rule_returns(world: World, role: str) -> None:
    """``grade_list_visible_to(viewer, school_class_id=...)`` (the gradebook's read: the class checked once) is
    the rule itself restricted to the class, for every role and class: the viewer's own class, another
    teacher's class in which the student is graded too, a class of another school, a class without a teacher,
    a class that does not exist; "former_teacher" still names the class as its teacher but left the school."""
    from django.contrib.auth.models import AnonymousUser

    from grading.selectors import grade_list_visible_to
    from tests.grading.factories import AssignmentFactory, GradeFactory, SchoolClassFactory

    other_class = SchoolClassFactory(school=world.school, teacher=world.other_teacher, name="Year 6 Art")
    foreign_class = SchoolClassFactory(school=world.other_school, teacher=world.foreign_teacher, name="Year 6 Music")
    orphan_class = SchoolClassFactory(school=world.school, teacher=None, name="Year 6 History")
    former_class = SchoolClassFactory(school=world.school, teacher=world.adult, name="Year 6 Latin")
    SchoolMembership.objects.create(school=world.school, user=world.adult, role=SchoolMembership.Role.TEACHER)
    for school_class in (other_class, foreign_class, orphan_class, former_class, world.school_class):
        second = AssignmentFactory(school_class=school_class, title="Essay")
        for student in (world.student, world.other_student):
            GradeFactory(assignment=second, student=student, graded_by=school_class.teacher)
    GradeFactory(assignment=world.assignment, student=world.other_student, graded_by=world.teacher)
    if role == "former_teacher":  # named as the class's teacher, no longer a teacher of its school
        viewer: Any = world.adult
        SchoolMembership.objects.filter(user=world.adult, role=SchoolMembership.Role.TEACHER).delete()
    else:
        viewer = world.user(role) or AnonymousUser()

    classes = [world.school_class, other_class, foreign_class, orphan_class, former_class]
    for school_class_id in [*(c.pk for c in classes), max(c.pk for c in classes) + 1]:
        rule = grade_list_visible_to(viewer=viewer).filter(assignment__school_class_id=school_class_id)
        one_class = grade_list_visible_to(viewer=viewer, school_class_id=school_class_id)
        assert set(one_class.values_list("pk", flat=True)) == set(rule.values_list("pk", flat=True)), school_class_id
    # the comparison is not empty-handed: the teacher sees their class's four grades, the student their own
    mine = set(grade_list_visible_to(viewer=viewer, school_class_id=world.school_class.pk).values_list("pk", flat=True))
    expected = {"teacher": 4, "student": 2, "other_student": 2}.get(role, 0)
    assert len(mine) == expected
