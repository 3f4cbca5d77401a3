"""Writes on classes, assignments and grades. Every grade change writes an audit row in the same transaction.

School-side writes on people (teacher invitations, student registration, login cards, removal) live in
``schools.services``.
"""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Max, Value, When
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from consent import selectors as consent_selectors
from consent import services as consent_services
from mindomo import cache as shared_cache
from mindomo.i18n import override
from mindomo.outbox import services as outbox
from mindomo.timezones import override_for_country
from schools import selectors as school_selectors
from schools import services as school_services
from schools.models import School, SchoolMembership

from . import retention
from .models import (
    Assignment,
    ClassJoinRequest,
    Enrollment,
    Grade,
    GradeAudit,
    GradeExport,
    ReportNoticeAcknowledgement,
    SchoolClass,
)

# Bump when the text of the grade-report privacy notice changes: teachers acknowledge it again.
REPORT_NOTICE_VERSION = 1


def _require_teacher(*, teacher: User, school: School) -> None:
    if not SchoolMembership.objects.filter(school=school, user=teacher, role=SchoolMembership.Role.TEACHER).exists():
        raise ValidationError(_("Only a teacher of this school can do this."))


@transaction.atomic
def class_create(*, teacher: User, school: School, name: str) -> SchoolClass:
    _require_teacher(teacher=teacher, school=school)
    name = name.strip()
    if not name:
        raise ValidationError(_("Give the class a name."))
    if SchoolClass.objects.filter(school=school, teacher=teacher, name=name).exists():
        raise ValidationError(_("You already have a class with this name."))
    return SchoolClass.objects.create(school=school, teacher=teacher, name=name, join_code=_new_join_code())


@transaction.atomic
def class_enroll_students(*, teacher: User, school_class: SchoolClass, student_ids: Iterable[int]) -> int:
    """Enroll students of the class's school; already-enrolled students are skipped. Returns how many joined."""
    if school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can enroll students."))
    _require_teacher(teacher=teacher, school=school_class.school)
    wanted = set(student_ids)
    valid = set(
        SchoolMembership.objects.filter(
            school_id=school_class.school_id, role=SchoolMembership.Role.STUDENT, user_id__in=wanted
        ).values_list("user_id", flat=True)
    )
    if wanted - valid:
        raise ValidationError(_("Only students of this school can be enrolled."))
    return _enroll(school_class=school_class, student_ids=valid)


def _enroll(*, school_class: SchoolClass, student_ids: set[int]) -> int:
    """Enrol students (members of the class's school) not yet in the class, numbered after the last one."""
    # Lock the class so that concurrent enrollments number students without gaps or clashes.
    SchoolClass.objects.select_for_update().filter(pk=school_class.pk).get()
    already = set(
        Enrollment.objects.filter(school_class=school_class, student_id__in=student_ids).values_list(
            "student_id", flat=True
        )
    )
    top = Enrollment.objects.filter(school_class=school_class).aggregate(top=Max("number"))["top"] or 0
    new = sorted(student_ids - already)
    Enrollment.objects.bulk_create(
        [Enrollment(school_class=school_class, student_id=sid, number=top + i) for i, sid in enumerate(new, start=1)]
    )
    return len(new)


@transaction.atomic
def assignment_create(
    *, teacher: User, school_class: SchoolClass, title: str, due_date: datetime.date, max_score: Decimal
) -> Assignment:
    if school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can add assignments."))
    _require_teacher(teacher=teacher, school=school_class.school)
    if max_score <= 0:
        raise ValidationError(_("The maximum score must be greater than zero."))
    return Assignment.objects.create(
        school_class=school_class, title=title.strip(), due_date=due_date, max_score=max_score
    )


@dataclass(frozen=True)
class GradeEntry:
    """One cell of the gradebook: ``score`` None means "no grade" (clears an existing one)."""

    student_id: int
    assignment_id: int
    score: Decimal | None
    feedback: str = ""


@dataclass(frozen=True)
class GradeSaveResult:
    created: int
    updated: int
    cleared: int


def _grade_entries_check(entries: list[GradeEntry], *, assignments: dict[int, Assignment], enrolled: set[int]) -> None:
    """Every entry belongs to the class; every score and feedback fits (all errors at once, nothing saved)."""
    errors: list[str] = []
    for entry in entries:
        assignment = assignments.get(entry.assignment_id)
        if assignment is None or entry.student_id not in enrolled:
            raise ValidationError(_("The grade does not belong to this class."))
        if entry.score is not None and not (0 <= entry.score <= assignment.max_score):
            errors.append(
                _("%(assignment)s: a score must be between 0 and %(max)s.")
                % {"assignment": assignment.title, "max": assignment.max_score}
            )
        if len(entry.feedback) > 2000:
            errors.append(
                _("%(assignment)s: feedback is limited to 2000 characters.") % {"assignment": assignment.title}
            )
    if errors:
        raise ValidationError(sorted(set(errors)))


@transaction.atomic
def grades_save(*, teacher: User, school_class: SchoolClass, entries: Iterable[GradeEntry]) -> GradeSaveResult:
    """Save a column or the whole grid in a constant number of queries; one audit row per change."""
    if school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can grade it."))
    _require_teacher(teacher=teacher, school=school_class.school)
    entries = list(entries)
    assignments = {a.pk: a for a in Assignment.objects.filter(school_class=school_class)}
    enrolled = set(Enrollment.objects.filter(school_class=school_class).values_list("student_id", flat=True))
    _grade_entries_check(entries, assignments=assignments, enrolled=enrolled)

    existing = {
        (g.student_id, g.assignment_id): g
        for g in Grade.objects.select_for_update().filter(assignment_id__in=assignments, student_id__in=enrolled)
    }
    now = timezone.now()
    to_create: list[Grade] = []
    to_update: list[Grade] = []
    to_delete: list[int] = []
    audits: list[GradeAudit] = []
    for entry in entries:
        grade = existing.get((entry.student_id, entry.assignment_id))
        feedback = entry.feedback.strip()
        base = {
            "assignment_id": entry.assignment_id,
            "student_id": entry.student_id,
            "changed_by": teacher,
            "changed_at": now,
        }
        if grade is None:
            if entry.score is None:
                continue
            to_create.append(
                Grade(
                    assignment_id=entry.assignment_id,
                    student_id=entry.student_id,
                    score=entry.score,
                    feedback=feedback,
                    graded_by=teacher,
                    graded_at=now,
                )
            )
            audits.append(
                GradeAudit(action=GradeAudit.Action.CREATED, new_score=entry.score, new_feedback=feedback, **base)
            )
        elif entry.score is None:
            to_delete.append(grade.pk)
            audits.append(
                GradeAudit(action=GradeAudit.Action.CLEARED, old_score=grade.score, old_feedback=grade.feedback, **base)
            )
        elif grade.score != entry.score or grade.feedback != feedback:
            audits.append(
                GradeAudit(
                    action=GradeAudit.Action.UPDATED,
                    old_score=grade.score,
                    new_score=entry.score,
                    old_feedback=grade.feedback,
                    new_feedback=feedback,
                    **base,
                )
            )
            grade.score = entry.score
            grade.feedback = feedback
            grade.graded_by = teacher
            grade.graded_at = now
            to_update.append(grade)
    try:
        if to_create:
            Grade.objects.bulk_create(to_create)
    except IntegrityError as exc:  # another request graded the same cell a moment ago
        raise ValidationError(_("Someone else saved these grades at the same time. Reload and try again.")) from exc
    if to_update:
        Grade.objects.bulk_update(to_update, ["score", "feedback", "graded_by", "graded_at"])
    if to_delete:
        Grade.objects.filter(pk__in=to_delete).delete()
    if audits:
        GradeAudit.objects.bulk_create(audits)
    return GradeSaveResult(created=len(to_create), updated=len(to_update), cleared=len(to_delete))


@transaction.atomic
def report_notice_acknowledge(*, teacher: User) -> ReportNoticeAcknowledgement:
    ack, _created = ReportNoticeAcknowledgement.objects.get_or_create(
        teacher=teacher, notice_version=REPORT_NOTICE_VERSION
    )
    return ack


def report_notice_acknowledged(*, teacher: User) -> bool:
    return ReportNoticeAcknowledgement.objects.filter(teacher=teacher, notice_version=REPORT_NOTICE_VERSION).exists()


@transaction.atomic
def grade_export_log(
    *, teacher: User, assignment: Assignment, format: str, pseudonymous: bool, row_count: int
) -> GradeExport:
    if assignment.school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can download its grades."))
    if not report_notice_acknowledged(teacher=teacher):
        raise ValidationError(_("Read and acknowledge the privacy notice before downloading a grade report."))
    return GradeExport.objects.create(
        teacher=teacher, assignment=assignment, format=format, pseudonymous=pseudonymous, row_count=row_count
    )


def enrollments_end_at_school(*, school: School, student_id: int) -> None:
    """A student left the school's roster (``schools.hooks.student_left``): their enrolments in its classes end;
    their grades stay with the classes until the account is deleted."""
    Enrollment.objects.filter(student_id=student_id, school_class__school=school).delete()


# --- Joining a class by its code (students with their own account) -------------------------------------------

# Letters and digits nobody confuses when copying from a board: no 0/O, 1/I/L.
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LENGTH = 8
JOIN_SALT = "grading.class-join"
JOIN_LINK_TTL = datetime.timedelta(days=7)


def _new_join_code() -> str:
    while True:
        code = "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LENGTH))
        if not SchoolClass.objects.filter(join_code=code).exists():
            return code


def join_code_normalise(text: str) -> str:
    """What a student typed, as stored: upper case, without spaces or dashes ("abcd-efgh" → "ABCDEFGH")."""
    return "".join(ch for ch in str(text).upper() if ch.isalnum())[:32]


def join_code_display(code: str | None) -> str:
    """A code as shown on the board: two groups of four ("ABCD-EFGH")."""
    if not code:
        return ""
    return f"{code[:4]}-{code[4:]}"


@transaction.atomic
def class_join_code(*, school_class: SchoolClass) -> str:
    """The class's code, made the first time it is asked for (classes created before codes existed)."""
    locked = SchoolClass.objects.select_for_update().get(pk=school_class.pk)
    if not locked.join_code:
        locked.join_code = _new_join_code()
        locked.save(update_fields=["join_code"])
    school_class.join_code = locked.join_code
    return locked.join_code


@transaction.atomic
def class_join_code_renew(*, teacher: User, school_class: SchoolClass) -> str:
    """A new code for the class (the old one stops working at once), by its teacher only."""
    if school_class.teacher_id != teacher.pk:
        raise ValidationError(_("Only the teacher of this class can do this."))
    school_class.join_code = _new_join_code()
    school_class.save(update_fields=["join_code"])
    return school_class.join_code


def join_link_token(*, join_request: ClassJoinRequest, parent_email: str) -> str:
    return signing.dumps({"r": join_request.pk, "p": parent_email}, salt=JOIN_SALT, compress=True)


def _join_link(token: str) -> str:
    return settings.SITE_URL + reverse("grading:class_join_answer", kwargs={"token": token})


def _ask_parents(*, join_request: ClassJoinRequest, parents: list[tuple[str, str]]) -> None:
    school_class = join_request.school_class
    teacher = school_class.teacher
    for email, language in parents:
        with override(language), override_for_country(join_request.student.country):
            outbox.email_enqueue(
                kind="class_join_request",
                to=email,
                subject=_("Your child asks to join a class at %(school)s") % {"school": school_class.school.name},
                template="grading/emails/class_join_request",
                context={
                    "login": join_request.student.username,
                    "class_name": school_class.name,
                    "teacher": teacher.get_full_name() if teacher else "",
                    "school": school_class.school.name,
                    "link": _join_link(join_link_token(join_request=join_request, parent_email=email)),
                    "expires_at": join_request.created_at + JOIN_LINK_TTL,
                },
                reference=f"grading.join:{join_request.pk}",
                expires_at=join_request.created_at + JOIN_LINK_TTL,
            )


JOIN_ATTEMPTS_PER_HOUR = 20


def _count_join_attempt(*, student: User, now: datetime.datetime) -> None:
    """At most JOIN_ATTEMPTS_PER_HOUR codes typed per person and hour: nobody guesses a class's code."""
    key = f"grading:join-attempts:{student.pk}:{now:%Y%m%d%H}"
    try:
        tried = shared_cache.count(key, timeout=3700)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if tried > JOIN_ATTEMPTS_PER_HOUR:
        raise ValidationError(_("Too many codes tried. Please wait an hour and try again."), code="too_many")


@transaction.atomic
def class_join(*, student: User, code: str, now: datetime.datetime | None = None) -> ClassJoinRequest:
    """A student with their own account asks to join the class with ``code``.

    An adult joins at once. A child under parental consent waits: each parent gets an email with a link to
    approve or decline (``class_join_answer``); the school sees nothing of the child before a parent approves.
    Asking again while waiting sends nothing new; after a parent declined, asking again asks the parents again.
    """
    now = now or timezone.now()
    _count_join_attempt(student=student, now=now)
    normalised = join_code_normalise(code)
    school_class = (
        SchoolClass.objects.select_related("school", "teacher").filter(join_code=normalised).first()
        if len(normalised) == JOIN_CODE_LENGTH
        else None
    )
    if school_class is None:
        raise ValidationError(_("No class has this code. Check it with your teacher."), code="unknown_code")
    if school_selectors.is_school_registered(student):
        raise ValidationError(
            _("Your school looks after your classes: ask your teacher to add you."), code="school_account"
        )
    if Enrollment.objects.filter(school_class=school_class, student=student).exists():
        raise ValidationError(_("You are already in this class."), code="already_joined")
    join_request, _created = ClassJoinRequest.objects.select_for_update().get_or_create(
        school_class=school_class, student=student, defaults={"created_at": now}
    )
    if consent_selectors.is_child_account(student):
        if join_request.status == ClassJoinRequest.Status.WAITING and not _created:
            return join_request
        parents = consent_selectors.parents_to_ask(child=student)
        if not parents:
            raise ValidationError(
                _("A parent must approve this, and we have no parent's address for your account."), code="no_parent"
            )
        join_request.status = ClassJoinRequest.Status.WAITING
        join_request.created_at = now
        join_request.decided_at = None
        join_request.save(update_fields=["status", "created_at", "decided_at"])
        _ask_parents(join_request=join_request, parents=parents)
        return join_request
    school_services.student_membership_ensure(school=school_class.school, user=student)
    _enroll(school_class=school_class, student_ids={student.pk})
    join_request.status = ClassJoinRequest.Status.JOINED
    join_request.decided_at = now
    join_request.save(update_fields=["status", "decided_at"])
    return join_request


@dataclass(frozen=True)
class JoinQuestion:
    join_request: ClassJoinRequest
    parent_email: str


def class_join_question(*, token: str, now: datetime.datetime | None = None) -> JoinQuestion:
    """The request a parent's link is about. Raises ValidationError for a tampered, expired or used link."""
    try:
        data = signing.loads(token, salt=JOIN_SALT, max_age=JOIN_LINK_TTL)
        request_id, parent_email = int(data["r"]), str(data["p"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise ValidationError(_("This link is not valid or has expired."), code="bad_link") from exc
    join_request = (
        ClassJoinRequest.objects.select_related("school_class__school", "school_class__teacher", "student")
        .filter(pk=request_id)
        .first()
    )
    if join_request is None or join_request.status != ClassJoinRequest.Status.WAITING:
        raise ValidationError(_("This request has already been answered."), code="answered")
    return JoinQuestion(join_request=join_request, parent_email=parent_email)


@transaction.atomic
def class_join_answer(*, token: str, approve: bool, now: datetime.datetime | None = None) -> ClassJoinRequest:
    """A parent approves (the child joins the class and becomes a student of the school) or declines. Either way
    the answer is in the consent ledger; a second answer, from either parent, is refused."""
    now = now or timezone.now()
    question = class_join_question(token=token, now=now)
    join_request = ClassJoinRequest.objects.select_for_update().get(pk=question.join_request.pk)
    if join_request.status != ClassJoinRequest.Status.WAITING:
        raise ValidationError(_("This request has already been answered."), code="answered")
    school_class = question.join_request.school_class
    child = question.join_request.student
    consent_services.school_class_access_record(
        child=child,
        school=school_class.school,
        class_name=school_class.name,
        parent_email=question.parent_email,
        approved=approve,
    )
    if approve:
        school_services.student_membership_ensure(school=school_class.school, user=child)
        _enroll(school_class=school_class, student_ids={child.pk})
    join_request.status = ClassJoinRequest.Status.JOINED if approve else ClassJoinRequest.Status.DECLINED
    join_request.decided_at = now
    join_request.save(update_fields=["status", "decided_at"])
    outbox.deliveries_forget(references=[f"grading.join:{join_request.pk}"])
    return join_request


@transaction.atomic
def class_end_set(*, actor: User, school_class: SchoolClass, ends_on: datetime.date | None) -> SchoolClass:
    """Set (or clear) the last day of a class: its teacher or an administrator of its school. Its grades are
    deleted the school's grade retention period after that day (``grading.retention``).

    The end is today or later ("archive" ends the class today): a past end would delete grades sooner than the
    school's period promises. Once the grades are deleted, the end stays as it is.
    """
    roles = school_selectors.roles_of(user=actor, school=school_class.school)
    is_teacher = school_class.teacher_id == actor.pk and SchoolMembership.Role.TEACHER in roles
    if not is_teacher and SchoolMembership.Role.ADMIN not in roles:
        raise ValidationError(_("Only the class's teacher or an administrator of its school can do this."))
    today = timezone.localdate()
    if ends_on is not None and ends_on < today:
        raise ValidationError(_("A class cannot end in the past. To end it now, archive it."))
    locked = SchoolClass.objects.select_for_update().select_related("school").get(pk=school_class.pk)
    deleted_on = retention.grades_deleted_on(locked)
    if deleted_on is not None and deleted_on <= today:
        raise ValidationError(_("This class's grades have been deleted; its end can no longer change."))
    locked.ends_on = ends_on
    locked.save(update_fields=["ends_on"])
    school_class.ends_on = ends_on
    return locked


def class_ends_from_roster_set(*, school: School, ends: dict[str, datetime.date]) -> int:
    """The school's rostered classes (``roster_sourced_id``) get the last day of their OneRoster terms
    (``retention.class_ends_from_roster``) where they have no end yet: an end a teacher or an administrator chose
    stays. A past term's end is the class's real end: its grades then follow the school's period from it. One
    UPDATE; returns how many classes got an end."""
    if not ends:
        return 0
    classes = SchoolClass.objects.filter(school=school, ends_on__isnull=True, roster_sourced_id__in=list(ends))
    waiting = set(classes.values_list("roster_sourced_id", flat=True))
    if not waiting:  # a roster imported again writes nothing
        return 0
    return classes.filter(roster_sourced_id__in=waiting).update(
        ends_on=Case(*(When(roster_sourced_id=key, then=Value(ends[key])) for key in sorted(waiting)))
    )
