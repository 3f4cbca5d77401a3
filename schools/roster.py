"""OneRoster sync: a school's roster brought in line with its student information system's export.

One path for the school's page, the Celery job and ``manage.py roster_import``:

1. :func:`roster_preview` keeps the uploaded zip (MEDIA_ROOT/rosters, unguessable name), reads it
   (``schools.oneroster``) and works out what would change, writing nothing but the ``RosterImport`` row; a file
   with any problem is refused (the zip is deleted at once).
2. :func:`roster_import_start` (after the administrator confirmed, including the exact list of accounts to
   erase) queues the job; :func:`roster_import_run` reads the zip again, checks that the plan still matches the
   preview, writes everything in one transaction, then erases the school-registered students no longer on the
   roster through the accounts erasure pipeline, and deletes the zip. Progress goes to the cache.

Sync semantics: people and classes are matched by their ``sourcedId`` (kept in ``RosteredPerson`` and on the
class); a row that is new is added, a changed one updated, a missing or ``tobedeleted`` one removed. Importing
the same file again changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import services as account_services
from accounts.models import AccountDeletionRequest, User

from . import hooks, oneroster
from .models import RosteredPerson, RosterImport, School, SchoolMembership, SchoolStudentAccount, TeacherInvitation
from .selectors import roles_of
from .services import (
    INVITATION_TTL,
    USERNAME_MAX,
    USERNAME_RE,
    StudentRow,
    _assign_usernames,
    students_create,
    teacher_invitation_send,
)

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600
# New students are written this many at a time: each batch costs the same few statements whatever its size
# (schools.services.students_create), and the page's progress moves once per batch.
IMPORT_BATCH = 500
ROLE = SchoolMembership.Role
# What each line of the preview is about, as the page names it.
KIND_LABELS = {
    "student": gettext_lazy("student"),
    "teacher": gettext_lazy("teacher"),
    "admin": gettext_lazy("school administrator"),
    "invitation": gettext_lazy("teacher invitation"),
    "guardians": gettext_lazy("parents"),
    "class": gettext_lazy("class"),
    "enrolment": gettext_lazy("enrolment"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


class RosterRefused(ValidationError):
    """The file cannot be imported: its problems, one message each (file and line)."""


@dataclass
class Plan:
    """What an import would do. Lists hold (kind, label) pairs for the preview; the rest drives the writes."""

    org_id: str = ""
    add: list[tuple[str, str]] = field(default_factory=list)
    change: list[tuple[str, str]] = field(default_factory=list)
    remove: list[tuple[str, str]] = field(default_factory=list)
    erase: list[tuple[int, str]] = field(default_factory=list)  # (user id, name), ordered by name
    notes: list[str] = field(default_factory=list)
    new_students: list[oneroster.Person] = field(default_factory=list)
    renamed: list[tuple[int, str, str]] = field(default_factory=list)  # (user id, given, family)
    staff_links: list[tuple[int, oneroster.Person, bool]] = field(default_factory=list)  # user, person, new role
    link_existing: list[tuple[int, oneroster.Person]] = field(default_factory=list)  # a student already here
    invite: list[str] = field(default_factory=list)
    unlink: list[tuple[RosteredPerson, str]] = field(default_factory=list)  # (link, "leave" | "role" | "erase")
    guardians: dict[str, tuple[str, ...]] = field(default_factory=dict)  # student sourcedId -> addresses
    user_ids: dict[str, int] = field(default_factory=dict)
    classes: list[tuple[str, str]] = field(default_factory=list)
    emails: list[tuple[int, str]] = field(default_factory=list)  # (RosteredPerson id, school email)

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.remove or self.erase or self.invite or self.emails)


def _name(person: oneroster.Person) -> str:
    return f"{person.given_name} {person.family_name}".strip()


def _org(school: School, roster: oneroster.Roster) -> str:
    if school.roster_org_id:
        if school.roster_org_id not in roster.orgs:
            raise RosterRefused(
                _("orgs.csv: this school's organisation %(id)s is not in the file.") % {"id": school.roster_org_id}
            )
        return school.roster_org_id
    if len(roster.orgs) == 1:
        return next(iter(roster.orgs))
    if not roster.orgs:
        raise RosterRefused(_("orgs.csv: the file holds no organisation of type school."))
    raise RosterRefused(
        _("orgs.csv: the file holds several schools (%(names)s); an operator sets which one is this school.")
        % {"names": ", ".join(f"{name} ({sid})" for sid, name in sorted(roster.orgs.items()))}
    )


def _in_scope(person: oneroster.Person, org_id: str) -> bool:
    return (
        person.role in ("student", "teacher", "admin") and person.active and (not person.orgs or org_id in person.orgs)
    )


def _guardian_emails(roster: oneroster.Roster) -> dict[str, list[str]]:
    """Per student sourcedId, the addresses of their active guardians (agents named on either side)."""
    found: dict[str, list[str]] = {}

    def link(student: str, guardian: str) -> None:
        person = roster.people.get(guardian)
        if person and person.role == "guardian" and person.active and person.email:
            emails = found.setdefault(student, [])
            if person.email.lower() not in (e.lower() for e in emails):
                emails.append(person.email)

    for person in roster.people.values():
        if person.role == "student":
            for agent in person.agents:
                link(person.sourced_id, agent)
        elif person.role == "guardian":
            for agent in person.agents:
                if agent in roster.people and roster.people[agent].role == "student":
                    link(agent, person.sourced_id)
    return found


@dataclass
class _Known:
    """What the database already holds about the school's people, read once per plan."""

    links: dict[str, RosteredPerson]
    registered: set[int]
    by_username: dict[str, User]
    by_name: dict[tuple[str, str], list[User]]
    accounts_by_email: dict[str, int]
    pending_invitations: set[str]


def _known(school: School, wanted: dict[str, oneroster.Person]) -> _Known:
    links = {rp.sourced_id: rp for rp in RosteredPerson.objects.filter(school=school).select_related("user")}
    linked_users = {rp.user_id for rp in links.values()}
    # Students already on the roster page (typed in or from the CSV) are matched by username, then by name.
    students_here = [
        m.user
        for m in SchoolMembership.objects.filter(school=school, role=ROLE.STUDENT).select_related("user")
        if m.user_id not in linked_users
    ]
    by_name: dict[tuple[str, str], list[User]] = {}
    for user in students_here:
        by_name.setdefault((user.first_name.casefold(), user.last_name.casefold()), []).append(user)
    staff_emails = [p.email.lower() for p in wanted.values() if p.role in ("teacher", "admin") and p.email]
    return _Known(
        links=links,
        registered=set(SchoolStudentAccount.objects.filter(school=school).values_list("user_id", flat=True)),
        by_username={u.username.lower(): u for u in students_here},
        by_name=by_name,
        accounts_by_email=dict(
            User.objects.annotate(e=Lower("email")).filter(e__in=staff_emails).values_list("e", "pk")
        ),
        pending_invitations={
            e.lower()
            for e in TeacherInvitation.objects.filter(
                school=school, accepted_at__isnull=True, expires_at__gt=timezone.now()
            ).values_list("email", flat=True)
        },
    )


def _plan_linked(
    person: oneroster.Person, link: RosteredPerson, known: _Known, plan: Plan, problems: list[str]
) -> None:
    plan.user_ids[person.sourced_id] = link.user_id
    if link.role != person.role:
        message = _("the role changed from %(old)s to %(new)s; a person keeps one role in a school.") % {
            "old": kind_label(link.role),
            "new": kind_label(person.role),
        }
        problems.append(str(oneroster.Problem("users.csv", person.line, message)))
        return
    if link.email.lower() != person.email.lower():
        plan.emails.append((link.pk, person.email))
        plan.change.append(
            (person.role, _("%(name)s: school email %(email)s") % {"name": _name(person), "email": person.email or "-"})
        )
    user = link.user
    names = (person.given_name[:150], person.family_name[:150])
    if person.role == "student" and user.pk in known.registered and (user.first_name, user.last_name) != names:
        plan.renamed.append((user.pk, *names))
        plan.change.append(("student", f"{user.get_full_name()} → {_name(person)}"))


def _plan_new_student(person: oneroster.Person, known: _Known, plan: Plan) -> None:
    match = known.by_username.get(person.username.lower()) if person.username else None
    if match is None:
        same = known.by_name.get((person.given_name.casefold(), person.family_name.casefold()), [])
        match = same[0] if len(same) == 1 else None
    if match is None:
        plan.new_students.append(person)
        plan.add.append(("student", _name(person)))
        return
    known.by_username.pop(match.username.lower(), None)
    known.by_name.pop((match.first_name.casefold(), match.last_name.casefold()), None)
    plan.user_ids[person.sourced_id] = match.pk
    plan.link_existing.append((match.pk, person))
    plan.change.append(("student", _("%(name)s: matched to the student already here") % {"name": _name(person)}))


def _plan_new_staff(person: oneroster.Person, known: _Known, plan: Plan) -> None:
    email = person.email.lower()
    user_id = known.accounts_by_email.get(email) if email else None
    if user_id is not None:
        plan.user_ids[person.sourced_id] = user_id
        plan.staff_links.append((user_id, person, True))
        plan.add.append((person.role, f"{_name(person)} <{person.email}>"))
    elif person.role == "teacher" and email:
        if email not in known.pending_invitations:
            plan.invite.append(person.email)
            plan.add.append(("invitation", f"{_name(person)} <{person.email}>"))
    else:
        plan.notes.append(
            _("%(name)s (%(role)s) has no account with a matching email address; invite them from the roster page.")
            % {"name": _name(person), "role": kind_label(person.role)}
        )


def _plan_removals(wanted: dict[str, oneroster.Person], known: _Known, plan: Plan, actor: User | None) -> None:
    actor_id = actor.pk if actor is not None else None
    for sid, link in known.links.items():
        if sid in wanted:
            continue
        user = link.user
        if link.role == ROLE.STUDENT and user.pk in known.registered:
            plan.unlink.append((link, "erase"))
            plan.erase.append((user.pk, user.get_full_name() or user.username))
        elif link.role == ROLE.ADMIN and user.pk == actor_id:
            plan.notes.append(_("You are no longer an administrator in the file; your own role is kept."))
        else:
            plan.unlink.append((link, "leave" if link.role == ROLE.STUDENT else "role"))
            plan.remove.append((link.role, user.get_full_name() or user.username))
    plan.erase.sort(key=lambda item: item[1].casefold())


def _plan_guardians(
    roster: oneroster.Roster, wanted: dict[str, oneroster.Person], known: _Known, plan: Plan, problems: list[str]
) -> None:
    """Parents' addresses, only for students the school registered (a student's own account has their parent)."""
    emails = _guardian_emails(roster)
    current = hooks.guardians_of(child_ids=[uid for uid in plan.user_ids.values() if uid in known.registered])
    for sid, person in wanted.items():
        user_id = plan.user_ids.get(sid)
        if person.role != "student" or (user_id is not None and user_id not in known.registered):
            continue
        given = tuple(emails.get(sid, ()))
        if len(given) > 2:
            problems.append(
                str(oneroster.Problem("users.csv", person.line, _("a student may have at most two guardians.")))
            )
            continue
        try:
            given = tuple(hooks.clean_guardian_emails(given)) if given else ()
        except ValidationError as exc:
            problems.extend(str(oneroster.Problem("users.csv", person.line, m)) for m in exc.messages)
            continue
        before = tuple(current.get(user_id, ())) if user_id is not None else ()
        if {e.lower() for e in given} != {e.lower() for e in before}:
            plan.guardians[sid] = given
            if user_id is not None:
                plan.change.append(("guardians", f"{_name(person)}: {', '.join(given) or '-'}"))


def _plan_people(school: School, roster: oneroster.Roster, plan: Plan, actor: User | None, problems: list[str]) -> None:
    wanted = {sid: p for sid, p in roster.people.items() if _in_scope(p, plan.org_id)}
    known = _known(school, wanted)
    for sid, person in wanted.items():
        link = known.links.get(sid)
        if link is not None:
            _plan_linked(person, link, known, plan, problems)
        elif person.role == "student":
            _plan_new_student(person, known, plan)
        else:
            _plan_new_staff(person, known, plan)
    _plan_removals(wanted, known, plan, actor)
    _plan_guardians(roster, wanted, known, plan, problems)


def roster_plan(*, school: School, source: str | IO[bytes], actor: User | None = None) -> tuple[Plan, oneroster.Roster]:
    """Read ``source`` and work out the changes. Raises RosterRefused with every problem (by file and line)."""
    try:
        roster, problems = oneroster.read(source)
    except oneroster.RosterFileError as exc:
        raise RosterRefused(str(exc)) from exc
    messages = [str(p) for p in problems]
    if messages:
        raise RosterRefused(messages)
    plan = Plan(org_id=_org(school, roster))
    _plan_people(school, roster, plan, actor, messages)
    if messages:
        raise RosterRefused(messages)
    plan.classes = hooks.classes_sync(
        school=school, roster=roster, org_id=plan.org_id, user_ids=plan.user_ids, apply=False
    )
    for kind, label in plan.classes:
        {"add": plan.add, "change": plan.change, "remove": plan.remove}[kind.split(":")[0]].append(
            (kind.split(":")[1], label)
        )
    plan.notes.extend(
        _("%(file)s is not read (the product does not need it).") % {"file": name} for name in roster.ignored_files
    )
    return plan, roster


# --- writing -------------------------------------------------------------------------------------------------
def _progress(import_id: int, done: int, total: int, state: str) -> None:
    """The page's progress, with the time: inside the import's transaction the job's only sign of life."""
    cache.set(
        f"schools:roster-import:{import_id}",
        {"done": done, "total": total, "state": state, "at": timezone.now().timestamp()},
        PROGRESS_TTL,
    )


def roster_progress(*, import_id: int) -> dict[str, Any]:
    return cache.get(f"schools:roster-import:{import_id}") or {"done": 0, "total": 0, "state": ""}


def _last_sign_of_life(roster_import: RosterImport) -> datetime | None:
    at = roster_import.heartbeat_at
    stamp = roster_progress(import_id=roster_import.pk).get("at")
    if stamp:
        seen = datetime.fromtimestamp(stamp, tz=UTC)
        at = seen if at is None or seen > at else at
    return at


def roster_import_interrupted(roster_import: RosterImport, *, now: datetime | None = None) -> bool:
    """Queued or running, and no progress for ROSTER_IMPORT_STALL_SECONDS: the worker running it died (or its
    message was lost). Nothing is half-written (the roster is written in one transaction), so it can run again."""
    if roster_import.state not in (RosterImport.State.QUEUED, RosterImport.State.RUNNING):
        return False
    last = _last_sign_of_life(roster_import)
    stall = timedelta(seconds=settings.ROSTER_IMPORT_STALL_SECONDS)
    return last is None or last < (now or timezone.now()) - stall


def roster_import_state_label(roster_import: RosterImport) -> str:
    """The state as the school's pages name it ("Interrupted" for a job whose worker died)."""
    if roster_import_interrupted(roster_import):
        return _("Interrupted")
    return str(roster_import.get_state_display())


def _username_for(person: oneroster.Person, taken: set[str]) -> str:
    username = person.username.lower()
    if username and len(username) <= USERNAME_MAX and USERNAME_RE.match(username) and username not in taken:
        return username
    return ""


def _create_students(school: School, actor: User, people: list[oneroster.Person], plan: Plan) -> None:
    """One batch of new students: school-registered accounts through ``schools.services.students_create`` (the
    one definition of such an account, its consent and its parents), set-based, and their roster links."""
    if not people:
        return
    wanted = [p.username.lower() for p in people if p.username]
    taken = {
        u.lower() for u in User.objects.annotate(u=Lower("username")).filter(u__in=wanted).values_list("u", flat=True)
    }
    rows = []
    for person in people:
        username = _username_for(person, taken)
        taken.add(username)
        rows.append(
            StudentRow(
                person.given_name[:150],
                person.family_name[:150],
                username,
                tuple(plan.guardians.pop(person.sourced_id, ())),
            )
        )
    users = students_create(actor=actor, school=school, rows=rows, usernames=_assign_usernames(rows))
    RosteredPerson.objects.bulk_create(
        [
            RosteredPerson(school=school, sourced_id=p.sourced_id, user=u, role=ROLE.STUDENT, email=p.email)
            for p, u in zip(people, users, strict=True)
        ]
    )
    plan.user_ids.update((p.sourced_id, u.pk) for p, u in zip(people, users, strict=True))


def _apply(school: School, actor: User, plan: Plan, roster: oneroster.Roster, import_id: int | None) -> None:
    total = len(plan.new_students) + len(plan.renamed) + len(plan.staff_links) + len(plan.unlink) + 1
    done = 0
    if school.roster_org_id != plan.org_id:
        school.roster_org_id = plan.org_id
        school.save(update_fields=["roster_org_id"])
    for start in range(0, len(plan.new_students), IMPORT_BATCH):
        batch = plan.new_students[start : start + IMPORT_BATCH]
        _create_students(school, actor, batch, plan)
        done += len(batch)
        if import_id:
            _progress(import_id, done, total, RosterImport.State.RUNNING)
    for user_id, person in plan.link_existing:
        RosteredPerson.objects.create(
            school=school, sourced_id=person.sourced_id, user_id=user_id, role=ROLE.STUDENT, email=person.email
        )
    for user_id, given, family in plan.renamed:
        User.objects.filter(pk=user_id).update(first_name=given, last_name=family)
    for user_id, person, _new in plan.staff_links:
        SchoolMembership.objects.get_or_create(school=school, user_id=user_id, role=person.role)
        RosteredPerson.objects.create(
            school=school, sourced_id=person.sourced_id, user_id=user_id, role=person.role, email=person.email
        )
    for link_id, email in plan.emails:
        RosteredPerson.objects.filter(pk=link_id).update(email=email)
    for email in plan.invite:
        invitation = TeacherInvitation.objects.create(
            school=school, email=email, invited_by=actor, expires_at=timezone.now() + INVITATION_TTL
        )
        teacher_invitation_send(invitation=invitation)
    for sid, emails in plan.guardians.items():
        child_id = plan.user_ids.get(sid)
        if child_id is not None:
            hooks.set_guardians(child=User.objects.get(pk=child_id), school=school, actor=actor, emails=emails)
    for link, outcome in plan.unlink:
        if outcome == "leave":
            hooks.left(school=school, student_id=link.user_id)
            SchoolMembership.objects.filter(school=school, user_id=link.user_id, role=ROLE.STUDENT).delete()
        elif outcome == "role":
            SchoolMembership.objects.filter(school=school, user_id=link.user_id, role=link.role).delete()
        if outcome != "erase":
            link.delete()
    hooks.classes_sync(school=school, roster=roster, org_id=plan.org_id, user_ids=plan.user_ids, apply=True)


def _require_admin(actor: User | None, school: School) -> None:
    if actor is None or ROLE.ADMIN not in roles_of(user=actor, school=school):
        raise ValidationError(_("Only an administrator of this school can import its roster."))


def _storage_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "rosters"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _delete_file(roster_import: RosterImport) -> None:
    if roster_import.file_name:
        (_storage_dir() / roster_import.file_name).unlink(missing_ok=True)
        roster_import.file_name = ""


def _summary(plan: Plan) -> dict[str, Any]:
    return {
        "add": [list(item) for item in plan.add],
        "change": [list(item) for item in plan.change],
        "remove": [list(item) for item in plan.remove],
        "erase": [name for _id, name in plan.erase],
        "notes": plan.notes,
        "problems": [],
    }


def roster_preview(*, actor: User, school: School, upload: Iterable[bytes], size: int) -> RosterImport:
    """Keep the uploaded zip and work out what importing it would change (nothing else is written)."""
    _require_admin(actor, school)
    if size > settings.ROSTER_UPLOAD_MAX_BYTES:  # refused before it is read
        raise RosterRefused(
            _("The file is too large (at most %(mb)d MB).") % {"mb": settings.ROSTER_UPLOAD_MAX_BYTES // (1024 * 1024)}
        )
    file_name = f"{uuid.uuid4().hex}.zip"
    path = _storage_dir() / file_name
    written = 0
    with open(path, "wb") as out:
        for chunk in upload:
            written += len(chunk)
            if written > settings.ROSTER_UPLOAD_MAX_BYTES:
                break
            out.write(chunk)
    roster_import = RosterImport(school=school, uploaded_by=actor, file_name=file_name)
    try:
        if written > settings.ROSTER_UPLOAD_MAX_BYTES:
            raise RosterRefused(
                _("The file is too large (at most %(mb)d MB).")
                % {"mb": settings.ROSTER_UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        plan, _roster = roster_plan(school=school, source=str(path), actor=actor)
    except RosterRefused as exc:
        _delete_file(roster_import)
        roster_import.state = RosterImport.State.REFUSED
        roster_import.summary = {"problems": list(exc.messages)}
        roster_import.finished_at = timezone.now()
        roster_import.save()
        return roster_import
    roster_import.summary = _summary(plan)
    roster_import.erase_user_ids = [user_id for user_id, _name in plan.erase]
    roster_import.save()
    return roster_import


def roster_import_start(*, actor: User, roster_import: RosterImport, confirm_erase: bool, queue: bool = True) -> None:
    """Queue the import the administrator confirmed (erasures need their explicit confirmation); ``queue``
    False leaves it for the caller to run (``manage.py roster_import`` runs it in its own process)."""
    _require_admin(actor, roster_import.school)
    if roster_import.erase_user_ids and not confirm_erase:
        raise ValidationError(_("Confirm that the accounts listed will be deleted."))
    updated = RosterImport.objects.filter(pk=roster_import.pk, state=RosterImport.State.PREVIEWED).update(
        state=RosterImport.State.QUEUED, heartbeat_at=timezone.now()
    )
    if not updated:
        raise ValidationError(_("This import was already started or cancelled."))
    _progress(roster_import.pk, 0, 0, RosterImport.State.QUEUED)
    if queue:
        _queue(roster_import.pk)


def _queue(import_id: int) -> None:
    from .tasks import roster_import_task  # the task module imports this one

    transaction.on_commit(lambda: roster_import_task.delay(import_id))


def _requeue(roster_import: RosterImport, now: datetime) -> bool:
    """Queue an interrupted import again (once: two callers at once, one wins). Its next run starts over."""
    if not roster_import_interrupted(roster_import, now=now):
        return False
    updated = RosterImport.objects.filter(
        pk=roster_import.pk, state=roster_import.state, heartbeat_at=roster_import.heartbeat_at
    ).update(state=RosterImport.State.QUEUED, heartbeat_at=now)
    if updated:
        _progress(roster_import.pk, 0, 0, RosterImport.State.QUEUED)
        _queue(roster_import.pk)
    return bool(updated)


def roster_import_retry(*, actor: User, roster_import: RosterImport) -> None:
    """ "Try again" on an interrupted import: queued again; it imports exactly what an uninterrupted run would."""
    _require_admin(actor, roster_import.school)
    if not _requeue(roster_import, timezone.now()):
        raise ValidationError(_("This import is not interrupted: it is still running or has finished."))


def roster_imports_resume(*, now: datetime | None = None) -> int:
    """Beat: queue again each interrupted import that has had fewer than ROSTER_IMPORT_MAX_ATTEMPTS runs (the
    message of a killed worker may come back too: whichever run comes first imports, the other finds it done
    or running). Returns how many were queued."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.ROSTER_IMPORT_STALL_SECONDS)
    candidates = RosterImport.objects.filter(
        state__in=[RosterImport.State.QUEUED, RosterImport.State.RUNNING],
        attempts__lt=settings.ROSTER_IMPORT_MAX_ATTEMPTS,
        heartbeat_at__lt=stale,
    )
    return sum(_requeue(roster_import, now) for roster_import in candidates)


def roster_import_cancel(*, actor: User, roster_import: RosterImport) -> None:
    _require_admin(actor, roster_import.school)
    with transaction.atomic():
        locked = RosterImport.objects.select_for_update().get(pk=roster_import.pk)
        if locked.state != RosterImport.State.PREVIEWED:
            raise ValidationError(_("This import was already started or cancelled."))
        _delete_file(locked)
        locked.state = RosterImport.State.CANCELLED
        locked.summary = _counts_only(locked.summary)
        locked.finished_at = timezone.now()
        locked.save(update_fields=["state", "file_name", "summary", "finished_at"])


def _counts_only(summary: dict[str, Any]) -> dict[str, Any]:
    """A finished import keeps how many rows changed, never who (the names were for the preview only)."""
    counts = summary.get("counts") or {key: len(summary.get(key, [])) for key in ("add", "change", "remove", "erase")}
    return {"counts": counts, **({"result": summary["result"]} if "result" in summary else {})}


def _finish(roster_import: RosterImport, state: str, **fields: Any) -> None:
    _delete_file(roster_import)
    if state != RosterImport.State.REFUSED:
        fields["summary"] = _counts_only(fields.get("summary", roster_import.summary))
    roster_import.state = state
    roster_import.finished_at = timezone.now()
    for name, value in fields.items():
        setattr(roster_import, name, value)
    # only these: the run's bookkeeping (written_at, heartbeat_at, attempts) was written by statements of its own
    roster_import.save(update_fields=sorted({"state", "finished_at", "file_name", "summary", *fields}))
    _progress(roster_import.pk, 1, 1, state)


LOCK_KEY = 0x726F7374  # "rost": pg_try_advisory_xact_lock(LOCK_KEY, import id) while a run writes the roster


def _claim(import_id: int) -> bool:
    """Take the import for this run: queued, or running with no progress for ROSTER_IMPORT_STALL_SECONDS (the
    worker that ran it died; a redelivered message or "Try again"). One short statement, committed at once."""
    roster_import = RosterImport.objects.filter(pk=import_id).first()
    if roster_import is None:
        return False
    if roster_import.state == RosterImport.State.RUNNING and not roster_import_interrupted(roster_import):
        return False
    updated = RosterImport.objects.filter(
        pk=import_id,
        state__in=[RosterImport.State.QUEUED, RosterImport.State.RUNNING],
        heartbeat_at=roster_import.heartbeat_at,
    ).update(state=RosterImport.State.RUNNING, heartbeat_at=timezone.now(), attempts=F("attempts") + 1)
    return bool(updated)


def _write(roster_import: RosterImport, school: School, actor: User) -> Plan | None:
    """The roster's one transaction, under the import's advisory lock: a run that finds it held leaves the
    import to the run still writing (None). ``written_at`` is set in the same transaction, so a later run
    (after a crash) knows whether anything was written: either all of it or nothing."""
    import_id = roster_import.pk
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_KEY, import_id])
            if not cursor.fetchone()[0]:
                return None
        if RosterImport.objects.filter(pk=import_id, written_at__isnull=False).exists():
            return Plan()  # another run wrote it meanwhile: only the erasures may be left
        path = _storage_dir() / roster_import.file_name
        plan, roster = roster_plan(school=school, source=str(path), actor=actor)
        if [user_id for user_id, _name in plan.erase] != roster_import.erase_user_ids:
            raise ValidationError(
                _("The roster changed since the preview (other accounts would be deleted). Upload the file again.")
            )
        _apply(school, actor, plan, roster, import_id)
        RosterImport.objects.filter(pk=import_id).update(written_at=timezone.now(), heartbeat_at=timezone.now())
    return plan


def roster_import_run(*, import_id: int) -> RosterImport:
    """The job: read the zip again, check it against the preview, write it all in one transaction, then erase
    the school-registered students no longer on the roster (each through the accounts erasure pipeline).

    Safe to run again (a redelivered task message, "Try again", beat's resume): a run whose worker died wrote
    nothing (its transaction rolled back) and the next one starts over; after the write only the erasures of
    the accounts still there are left; a run still alive is never doubled (its advisory lock)."""
    claimed = _claim(import_id)
    roster_import = RosterImport.objects.select_related("school", "uploaded_by").get(pk=import_id)
    if not claimed:
        return roster_import
    school, actor = roster_import.school, roster_import.uploaded_by
    _progress(import_id, 0, 0, RosterImport.State.RUNNING)
    try:
        _require_admin(actor, school)
        assert actor is not None
        if roster_import.written_at is None:
            plan = _write(roster_import, school, actor)
            if plan is None:
                return roster_import
    except ValidationError as exc:
        _finish(roster_import, RosterImport.State.FAILED, error=" ".join(exc.messages))
        return roster_import
    failed = 0
    for user_id in roster_import.erase_user_ids:
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            continue  # erased by an earlier run
        deletion = account_services.account_erase_now(
            user=user, requested_by="school", reason="no longer on the school's OneRoster roster"
        )
        if deletion.state != AccountDeletionRequest.State.ERASED:
            failed += 1  # the erasure pipeline retries it
        RosterImport.objects.filter(pk=import_id).update(heartbeat_at=timezone.now())
    erased = len(roster_import.erase_user_ids) - User.objects.filter(pk__in=roster_import.erase_user_ids).count()
    summary = dict(roster_import.summary)
    summary["result"] = {"erased": erased, "erase_retrying": failed}
    _finish(roster_import, RosterImport.State.DONE, summary=summary)
    return roster_import


def roster_import_timed_out(*, import_id: int) -> RosterImport:
    """The job ran out of time. While writing: its transaction rolled back, nothing was written, the import
    failed. During the erasures (the roster written): it stays running, and once it has shown no progress for
    ROSTER_IMPORT_STALL_SECONDS the next run (beat's resume, "Try again") erases the accounts still left."""
    roster_import = RosterImport.objects.get(pk=import_id)
    if roster_import.written_at is not None:
        return roster_import
    _finish(
        roster_import,
        RosterImport.State.FAILED,
        error=_("The import took too long and nothing was written. Ask an operator to run it with manage.py."),
    )
    return roster_import


def roster_previews_expired_delete(*, now: Any = None) -> int:
    """Zips previewed but never imported are deleted after ROSTER_PREVIEW_TTL_HOURS, and so are those of
    imports interrupted and not tried again for as long (they fail: the file must be uploaded again)."""
    now = now or timezone.now()
    before = now - timedelta(hours=settings.ROSTER_PREVIEW_TTL_HOURS)
    count = 0
    for roster_import in RosterImport.objects.filter(state=RosterImport.State.PREVIEWED, created_at__lt=before):
        _finish(roster_import, RosterImport.State.CANCELLED)
        count += 1
    for roster_import in RosterImport.objects.filter(
        state__in=[RosterImport.State.QUEUED, RosterImport.State.RUNNING], heartbeat_at__lt=before
    ):
        if roster_import_interrupted(roster_import, now=now):
            _finish(
                roster_import,
                RosterImport.State.FAILED,
                error=_("The import was interrupted and not tried again in time. Upload the file again."),
            )
            count += 1
    return count
