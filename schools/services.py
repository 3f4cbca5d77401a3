"""School-side writes on people: invite teachers, register students (one by one or by CSV), issue login cards,
take teachers and students off the roster. Classes, enrolments and grades are grading's.

A school-registered student's consent is given by the school (method "school", limited to the
educational context), recorded by the consent app (through ``schools.hooks``) in the same transaction as
the account.
Such accounts have no email address (so no email login, no social link by email, no mail at all)
and ``product_updates`` stays False.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import hooks as account_hooks
from accounts import services as account_services
from accounts.models import AccountDeletionRequest, User
from mindomo import cache as shared_cache
from mindomo.i18n import language_for, override, supported
from mindomo.outbox import services as outbox

from . import hooks
from .models import (
    GRADE_RETENTION_MONTHS_MAX,
    GRADE_RETENTION_MONTHS_MIN,
    School,
    SchoolDomain,
    SchoolMembership,
    SchoolStudentAccount,
    TeacherInvitation,
    TeacherJoinRequest,
)
from .selectors import roles_of

NAME_MAX = 150
USERNAME_MAX = 30
CSV_MAX_BYTES = 256 * 1024
CSV_MAX_ROWS = 1000
INVITATION_SALT = "grading.teacher-invitation"  # the salt of links already sent: unchanged by the move
INVITATION_TTL = timedelta(days=7)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

# Short, common, unambiguous words children can type; three of them and two digits ≈ 2^27 combinations,
# with login attempts rate-limited.
_WORDS = (
    "apple acorn amber anchor arrow aspen badge bamboo basil beacon berry birch bison blossom breeze brook "
    "cactus camel canoe canyon cedar cherry cloud clover cobalt comet coral cotton crane daisy delta dolphin "
    "eagle ember falcon fern fiddle forest fossil galaxy garden ginger glacier granite harbor hazel heron "
    "honey island ivory jasmine jungle kettle kiwi lagoon lantern lemon lilac lotus maple meadow melon "
    "meteor mint mosaic nectar nova oasis ocean olive orbit otter panda pebble pepper pine planet plum "
    "pond poppy quartz quill rabbit rain raven reef river robin rocket saffron sail sequoia shell sierra "
    "spruce star stone summit tiger topaz tulip tundra valley velvet violet walnut willow zebra zephyr"
).split()


# --- roles ---------------------------------------------------------------------------------------------
def _roles(*, user: User, school: School) -> set[str]:
    return roles_of(user=user, school=school)


def _require_roster_manager(*, actor: User, school: School) -> None:
    if not _roles(user=actor, school=school) & {SchoolMembership.Role.ADMIN, SchoolMembership.Role.TEACHER}:
        raise ValidationError(_("Only a teacher or an administrator of this school can do this."))


# --- teacher invitations ---------------------------------------------------------------------------------
def invitation_token(invitation: TeacherInvitation) -> str:
    return signing.dumps({"i": invitation.pk, "e": invitation.email.lower()}, salt=INVITATION_SALT, compress=True)


@transaction.atomic
def teacher_invite(*, admin: User, school: School, email: str) -> TeacherInvitation:
    if SchoolMembership.Role.ADMIN not in _roles(user=admin, school=school):
        raise ValidationError(_("Only an administrator of this school can invite teachers."))
    email = email.strip()
    if SchoolMembership.objects.filter(
        school=school, role=SchoolMembership.Role.TEACHER, user__email__iexact=email
    ).exists():
        raise ValidationError(_("This person is already a teacher of this school."))
    invitation = TeacherInvitation.objects.create(
        school=school, email=email, invited_by=admin, expires_at=timezone.now() + INVITATION_TTL
    )
    teacher_invitation_send(invitation=invitation)
    return invitation


def teacher_invitation_send(*, invitation: TeacherInvitation) -> None:
    """Email the invitation through the outbox, in the transaction that creates it (the signed link is derived
    from the row; the email, with the link, is kept only until its retention period ends)."""
    link = settings.SITE_URL.rstrip("/") + reverse("grading:invitation_accept", args=[invitation_token(invitation)])
    context = {
        "school": invitation.school,
        "inviter": invitation.invited_by,
        "link": link,
        "expires_at": invitation.expires_at,
    }
    # the invitee has no account yet: the email is in the language of the administrator who invited them
    with override(language_for(invitation.invited_by)) as language:
        subject = _("You are invited to teach at %(school)s on Mindomo") % {"school": invitation.school.name}
        body = render_to_string("schools/emails/teacher_invitation.txt", context)
    outbox.delivery_enqueue(
        kind="schools.teacher_invitation",
        message=EmailMessage(subject, body, to=[invitation.email]),
        expires_at=invitation.expires_at,
        language=language,
    )


def invitation_from_token(*, token: str) -> TeacherInvitation:
    """The pending invitation a link names; a tampered, expired or used link raises ValidationError."""
    invalid = ValidationError(_("This invitation link is invalid, has expired or was already used."))
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=INVITATION_TTL)
    except signing.BadSignature as exc:
        raise invalid from exc
    invitation = (
        TeacherInvitation.objects.select_related("school").filter(pk=data.get("i"), accepted_at__isnull=True).first()
    )
    if invitation is None or invitation.email.lower() != data.get("e") or invitation.expires_at <= timezone.now():
        raise invalid
    return invitation


@transaction.atomic
def teacher_invitation_accept(*, token: str, user: User) -> SchoolMembership:
    invitation = invitation_from_token(token=token)
    invitation = TeacherInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:
        raise ValidationError(_("This invitation link is invalid, has expired or was already used."))
    if not user.email or user.email.lower() != invitation.email.lower():
        raise ValidationError(
            _("This invitation was sent to another email address. Sign in with the account of %(email)s.")
            % {"email": invitation.email}
        )
    membership = teacher_membership_grant(school=invitation.school, user=user)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def teacher_membership_grant(*, school: School, user: User) -> SchoolMembership:
    """The one path by which a person becomes a teacher of ``school``: an accepted invitation
    (``teacher_invitation_accept``) or an approved request to join (``teacher_join_answer``)."""
    if SchoolStudentAccount.objects.filter(user_id=user.pk).exists():
        raise ValidationError(_("A school-registered student account cannot become a teacher."))
    membership, _created = SchoolMembership.objects.get_or_create(
        school=school, user=user, role=SchoolMembership.Role.TEACHER
    )
    return membership


# --- requests to join as a teacher (signed in with a verified school domain's account, on no roster) -------
JOIN_REQUEST_RETENTION_DAYS = 30
JOIN_REQUESTS_PER_ADDRESS_PER_DAY = 3
JOIN_REQUESTS_PER_IP_PER_HOUR = 10


def _join_rate_limited(*, email: str, client_ip: str) -> bool:
    """Count one request against the address (a day) and the network address (an hour); True when over."""
    now = timezone.now()
    address = hashlib.sha256(email.encode()).hexdigest()[:32]  # no readable address in the cache
    per_address = shared_cache.count(f"schools:join:address:{address}:{now:%Y%m%d}", timeout=90_000)
    per_ip = shared_cache.count(f"schools:join:ip:{client_ip}:{now:%Y%m%d%H}", timeout=3_700)
    return per_address > JOIN_REQUESTS_PER_ADDRESS_PER_DAY or per_ip > JOIN_REQUESTS_PER_IP_PER_HOUR


def _join_expires_at(join_request: TeacherJoinRequest) -> datetime:
    return join_request.created_at + timedelta(days=JOIN_REQUEST_RETENTION_DAYS)


def _site_link(name: str, *args: Any) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(name, args=args)


def _clean_name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValidationError(_("Please enter your first and last name."), code="name")
    if len(value) > NAME_MAX:
        raise ValidationError(
            ngettext(
                "A name may have at most %(limit)d character.",
                "A name may have at most %(limit)d characters.",
                NAME_MAX,
            )
            % {"limit": NAME_MAX},
            code="name",
        )
    return value


@transaction.atomic
def teacher_join_request(
    *, domain_id: int, email: str, first_name: str, last_name: str, language: str, client_ip: str
) -> TeacherJoinRequest:
    """Someone whose school account (of the verified domain ``domain_id``) matched nobody asks to join the school
    as a teacher. Keeps their name and school email only; emails each administrator of the school, in the
    administrator's language. Refused: a domain no longer verified, an address of another domain, someone who is
    already a teacher or administrator there, a second request while one waits, too many requests."""
    domain = SchoolDomain.objects.select_related("school").filter(pk=domain_id, verified_at__isnull=False).first()
    if domain is None:
        raise ValidationError(
            _("This school's sign-in is not verified any more. Please ask the school's administrator."),
            code="domain",
        )
    school = domain.school
    email = email.strip().lower()
    if not email.endswith("@" + domain.domain):
        raise ValidationError(
            _("This account is not a %(domain)s school account. Sign in with your school account.")
            % {"domain": domain.domain},
            code="domain",
        )
    first_name = _clean_name(first_name)
    last_name = _clean_name(last_name)
    if SchoolMembership.objects.filter(
        school=school,
        role__in=[SchoolMembership.Role.TEACHER, SchoolMembership.Role.ADMIN],
        user__email__iexact=email,
    ).exists():
        raise ValidationError(
            _("You are already a teacher of %(school)s. Sign in with your school account.") % {"school": school.name},
            code="member",
        )
    already = ValidationError(
        _(
            "You have already asked to join %(school)s as a teacher. Its administrators will answer you by email "
            "at %(email)s."
        )
        % {"school": school.name, "email": email},
        code="duplicate",
    )
    if TeacherJoinRequest.objects.filter(
        school=school, email__iexact=email, status=TeacherJoinRequest.Status.PENDING
    ).exists():
        raise already
    admins = list(
        User.objects.filter(
            school_memberships__school=school, school_memberships__role=SchoolMembership.Role.ADMIN, is_active=True
        )
        .exclude(email="")
        .order_by("pk")
    )
    if not admins:
        raise ValidationError(
            _("%(school)s has no administrator on Mindomo who could answer. Please talk to your school.")
            % {"school": school.name},
            code="no_admin",
        )
    try:
        limited = _join_rate_limited(email=email, client_ip=client_ip)
    except shared_cache.CacheUnavailable as exc:
        raise shared_cache.unavailable_error() from exc
    if limited:
        raise ValidationError(_("Too many requests to join. Please wait an hour and try again."), code="rate_limited")
    try:
        with transaction.atomic():
            join_request = TeacherJoinRequest.objects.create(
                school=school,
                domain=domain,
                email=email,
                first_name=first_name,
                last_name=last_name,
                language=supported(language) or "",
            )
    except IntegrityError as exc:  # the same request submitted twice at once
        raise already from exc
    for admin in admins:
        with override(language_for(admin)) as admin_language:
            outbox.email_enqueue(
                kind="schools.teacher_join_request",
                to=admin.email,
                subject=_("%(name)s asks to join %(school)s as a teacher")
                % {"name": f"{first_name} {last_name}", "school": school.name},
                template="schools/emails/teacher_join_request",
                html=False,
                language=admin_language,
                context={
                    "name": f"{first_name} {last_name}",
                    "email": email,
                    "school": school.name,
                    "domain": domain.domain,
                    "service": domain.get_provider_display(),
                    "link": _site_link("grading:school_roster", school.pk) + "#join-requests",
                    "expires_at": _join_expires_at(join_request),
                },
                user=admin,
                reference=f"schools.join:{join_request.pk}",
                expires_at=_join_expires_at(join_request),
            )
    return join_request


def _teacher_account(join_request: TeacherJoinRequest) -> User:
    """The account of the approved teacher: the one already holding the school email (when its owner confirmed
    it and it may be a teacher's), else a new one with the name and school email only."""
    existing = User.objects.filter(email__iexact=join_request.email).first()
    if existing is None:
        return account_services.user_create_verified(
            email=join_request.email,
            first_name=join_request.first_name,
            last_name=join_request.last_name,
            country=str(join_request.school.country or ""),
            language=join_request.language,
        )
    confirmed = EmailAddress.objects.filter(user=existing, email__iexact=join_request.email, verified=True).exists()
    if not existing.is_active or not confirmed or account_hooks.is_restricted(existing):
        raise ValidationError(
            _(
                "%(email)s belongs to a Mindomo account that cannot become a teacher's account (a child's or a "
                "student's account, or one whose address was never confirmed). Invite the teacher by email instead."
            )
            % {"email": join_request.email},
            code="account",
        )
    return existing


@transaction.atomic
def teacher_join_answer(*, admin: User, school: School, join_request_id: int, approve: bool) -> TeacherJoinRequest:
    """An administrator of the school approves (the person becomes a teacher of the school, through the same path
    as an accepted invitation, and their next school sign-in lands in that account) or declines a request to join.
    The person is told by email either way, in the language they asked in."""
    if SchoolMembership.Role.ADMIN not in _roles(user=admin, school=school):
        raise ValidationError(_("Only an administrator of this school can answer requests to join."), code="forbidden")
    join_request = (
        TeacherJoinRequest.objects.select_for_update()
        .select_related("school")
        .filter(pk=join_request_id, school=school)
        .first()
    )
    if join_request is None:
        raise ValidationError(_("This request to join does not exist any more."), code="missing")
    if join_request.status == TeacherJoinRequest.Status.APPROVED:
        raise ValidationError(_("This request was already approved."), code="answered")
    if join_request.status == TeacherJoinRequest.Status.DECLINED:
        raise ValidationError(_("This request was already declined."), code="answered")
    if approve:
        domain = join_request.domain
        if domain is None or domain.verified_at is None or domain.school_id != school.pk:
            raise ValidationError(
                _(
                    "The school's sign-in domain of %(email)s is not verified any more: verify it again on the "
                    'page "Sign-in with the school\'s accounts" before approving.'
                )
                % {"email": join_request.email},
                code="domain",
            )
        teacher = _teacher_account(join_request)
        teacher_membership_grant(school=school, user=teacher)
        join_request.teacher = teacher
    join_request.status = TeacherJoinRequest.Status.APPROVED if approve else TeacherJoinRequest.Status.DECLINED
    join_request.answered_at = timezone.now()
    join_request.answered_by = admin
    join_request.save(update_fields=["status", "answered_at", "answered_by", "teacher"])
    with override(join_request.language) as language:
        outbox.email_enqueue(
            kind="schools.teacher_join_answer",
            to=join_request.email,
            subject=(
                _("You are now a teacher of %(school)s on Mindomo")
                if approve
                else _("Your request to join %(school)s on Mindomo was declined")
            )
            % {"school": school.name},
            template="schools/emails/teacher_join_" + ("approved" if approve else "declined"),
            html=False,
            language=language,
            context={"name": join_request.first_name, "school": school.name, "link": _site_link("schools:sign_in")},
            reference=f"schools.join:{join_request.pk}",
            expires_at=_join_expires_at(join_request),
        )
    return join_request


def teacher_join_requests_expired(now: datetime) -> QuerySet[TeacherJoinRequest]:
    """Requests made more than JOIN_REQUEST_RETENTION_DAYS before ``now``, answered or not (retention rule)."""
    return TeacherJoinRequest.objects.filter(created_at__lt=now - timedelta(days=JOIN_REQUEST_RETENTION_DAYS))


JOIN_REQUEST_KEY = ("created_at", "id")  # the index schools_join_created_key


@transaction.atomic
def teacher_remove(*, admin: User, school: School, teacher_id: int) -> None:
    """End someone's teacher role at the school: they stop seeing its classes and their grades at once
    (the selectors require the role); the classes and grades stay with the school."""
    if SchoolMembership.Role.ADMIN not in _roles(user=admin, school=school):
        raise ValidationError(_("Only an administrator of this school can remove teachers."))
    deleted, _rows = SchoolMembership.objects.filter(
        school=school, user_id=teacher_id, role=SchoolMembership.Role.TEACHER
    ).delete()
    if not deleted:
        raise ValidationError(_("This person is not a teacher of this school."))


def student_remove(*, admin: User, school: School, student_id: int) -> str:
    """Take a student off the school's roster.

    An account the school registered exists only through the school's consent: it is erased at once, with
    all its data, through the accounts erasure pipeline. A student's own account only leaves the school.
    Returns "erased" or "left".
    """
    if SchoolMembership.Role.ADMIN not in _roles(user=admin, school=school):
        raise ValidationError(_("Only an administrator of this school can remove students."))
    membership = SchoolMembership.objects.filter(
        school=school, user_id=student_id, role=SchoolMembership.Role.STUDENT
    ).first()
    if membership is None:
        raise ValidationError(_("This person is not a student of this school."))
    if not SchoolStudentAccount.objects.filter(user_id=student_id, school=school).exists():
        with transaction.atomic():
            hooks.left(school=school, student_id=student_id)  # grading ends the enrolments in the school's classes
            membership.delete()
        return "left"
    deletion = account_services.account_erase_now(
        user=User.objects.get(pk=student_id), requested_by="school", reason="removed from the school's roster"
    )
    if deletion.state != AccountDeletionRequest.State.ERASED:
        raise ValidationError(_("The account could not be erased completely; it is retried automatically."))
    return "erased"


# --- students --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StudentRow:
    first_name: str
    last_name: str
    username: str = ""
    # a parent's or guardian's email addresses (at most two; school administrators only)
    parent_emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoginCard:
    school: str
    name: str
    username: str
    password: str


class CsvImportError(ValidationError):
    """Raised with one message per bad line; nothing is written."""


# Letters that Unicode does not decompose into a base letter and an accent.
_TRANSLITERATE = str.maketrans({"ø": "o", "ß": "ss", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})


def _ascii_slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLITERATE)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def _username_base(row: StudentRow) -> str:
    first = _ascii_slug(row.first_name) or "student"
    last = _ascii_slug(row.last_name)[:1]
    return (first[:20] + ("." + last if last else ""))[:24]


def _assign_usernames(rows: list[StudentRow]) -> list[str]:
    """Chosen usernames are kept; the others are generated as ``first.l`` plus a number when taken."""
    bases = {_username_base(r) for r in rows if not r.username}
    taken: set[str] = set()
    if bases:
        query = Q()
        for base in bases:
            query |= Q(username__istartswith=base)
        taken = {u.lower() for u in User.objects.filter(query).values_list("username", flat=True)}
    taken |= {r.username.lower() for r in rows if r.username}
    result = []
    for row in rows:
        if row.username:
            result.append(row.username.lower())
            continue
        base = _username_base(row)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}{n}"
        taken.add(candidate)
        result.append(candidate)
    return result


def _row_field_errors(line: int, row: StudentRow) -> list[str]:
    """What is wrong with one row on its own: missing or too long names, the parents' addresses, the username."""
    errors: list[str] = []
    if not row.first_name:
        errors.append(_("Line %(line)d: the first name is missing.") % {"line": line})
    if not row.last_name:
        errors.append(_("Line %(line)d: the last name is missing.") % {"line": line})
    for label, value, limit in (
        (_("first name"), row.first_name, NAME_MAX),
        (_("last name"), row.last_name, NAME_MAX),
        (_("username"), row.username, USERNAME_MAX),
    ):
        if len(value) > limit:
            errors.append(
                ngettext(
                    "Line %(line)d: the %(field)s is longer than %(limit)d character.",
                    "Line %(line)d: the %(field)s is longer than %(limit)d characters.",
                    limit,
                )
                % {"line": line, "field": label, "limit": limit}
            )
    if any(row.parent_emails):
        try:
            hooks.clean_guardian_emails(row.parent_emails)
        except ValidationError as exc:
            errors.extend(_("Line %(line)d: ") % {"line": line} + message for message in exc.messages)
    if row.username and len(row.username) <= USERNAME_MAX and not USERNAME_RE.match(row.username.lower()):
        errors.append(
            _("Line %(line)d: a username may hold only letters, digits, dots, dashes and underscores.") % {"line": line}
        )
    return errors


def _validate_rows(rows: list[tuple[int, StudentRow]], *, school: School) -> list[str]:
    """One message per problem, each naming its line; checks the database for taken usernames once.

    A student already in the school under the same name is refused unless the row names a username: an
    upload sent twice (or a double submit) adds nobody a second time.
    """
    errors: list[str] = []
    enrolled_names = {
        (first.casefold(), last.casefold())
        for first, last in User.objects.filter(
            school_memberships__school=school, school_memberships__role=SchoolMembership.Role.STUDENT
        ).values_list("first_name", "last_name")
    }
    seen_usernames: dict[str, int] = {}
    seen_names: dict[tuple[str, str], int] = {}
    for line, row in rows:
        errors.extend(_row_field_errors(line, row))
        if row.username:
            key = row.username.lower()
            if key in seen_usernames:
                errors.append(
                    _("Line %(line)d: the username %(username)s is also on line %(other)d.")
                    % {"line": line, "username": row.username, "other": seen_usernames[key]}
                )
            else:
                seen_usernames[key] = line
        if row.first_name and row.last_name:
            name_key = (row.first_name.casefold(), row.last_name.casefold())
            if name_key in enrolled_names and not row.username:
                errors.append(
                    _(
                        "Line %(line)d: %(name)s is already a student of this school (give a username to add "
                        "another student with the same name)."
                    )
                    % {"line": line, "name": f"{row.first_name} {row.last_name}"}
                )
            if name_key in seen_names and not row.username:
                errors.append(
                    _(
                        "Line %(line)d: %(name)s is also on line %(other)d (give each a username if they are two "
                        "different students)."
                    )
                    % {"line": line, "name": f"{row.first_name} {row.last_name}", "other": seen_names[name_key]}
                )
            else:
                seen_names.setdefault(name_key, line)
    if seen_usernames:
        # usernames are unique case-insensitively
        query = Q()
        for username in seen_usernames:
            query |= Q(username__iexact=username)
        taken = sorted(
            {u.lower() for u in User.objects.filter(query).values_list("username", flat=True)},
            key=lambda key: seen_usernames.get(key, 0),
        )
        for key in taken:
            errors.append(
                _("Line %(line)d: the username %(username)s is already taken.")
                % {"line": seen_usernames[key], "username": key}
            )
    return errors


def parse_student_csv(*, data: bytes) -> list[tuple[int, StudentRow]]:
    """Rows of a CSV with the columns first_name, last_name and optionally username, parent_email and
    parent_email_2 (header required)."""
    not_csv = CsvImportError(
        _(
            "This file is not a CSV file with the columns first_name, last_name and (optionally) username, "
            "parent_email and parent_email_2."
        )
    )
    if len(data) > CSV_MAX_BYTES:
        raise CsvImportError(_("The file is too large (at most %(kb)d KB).") % {"kb": CSV_MAX_BYTES // 1024})
    if b"\x00" in data:
        raise not_csv
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_csv from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise not_csv
        columns = [h.strip().lower().replace(" ", "_") for h in header]
        if (
            "first_name" not in columns
            or "last_name" not in columns
            or not set(columns)
            <= {
                "first_name",
                "last_name",
                "username",
                "parent_email",
                "parent_email_2",
            }
        ):
            raise not_csv
        index = {name: columns.index(name) for name in columns}
        rows: list[tuple[int, StudentRow]] = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(columns):
                raise CsvImportError(
                    [
                        ngettext(
                            "Line %(line)d: expected %(expected)d column, found %(found)d.",
                            "Line %(line)d: expected %(expected)d columns, found %(found)d.",
                            len(columns),
                        )
                        % {"line": reader.line_num, "expected": len(columns), "found": len(record)}
                    ]
                )

            def cell(name: str, record: list[str] = record) -> str:
                return record[index[name]].strip() if name in index else ""

            parents = tuple(e for e in (cell("parent_email"), cell("parent_email_2")) if e)
            rows.append((reader.line_num, StudentRow(cell("first_name"), cell("last_name"), cell("username"), parents)))
            if len(rows) > CSV_MAX_ROWS:
                raise CsvImportError(
                    ngettext("At most %(n)d student per file.", "At most %(n)d students per file.", CSV_MAX_ROWS)
                    % {"n": CSV_MAX_ROWS}
                )
    except csv.Error as exc:
        raise not_csv from exc
    if not rows:
        raise CsvImportError(_("The file holds no students."))
    return rows


def students_create(*, actor: User, school: School, rows: Sequence[StudentRow], usernames: Sequence[str]) -> list[User]:
    """What a school-registered student is, for one student or a batch: an account with no email (so no email
    login, no social link by email, no mail at all), no usable password until a login card is printed,
    ``product_updates`` False, the school's country; a student of the school, registered by it; the school's
    consent (method "school") and the parents' addresses the rows give, recorded by the consent app in the
    caller's transaction.

    Set-based: one INSERT per table and one consent append whatever the number of rows (the roster page's
    form, a CSV upload, a batch of a OneRoster import). Rows are not validated here (the callers did);
    a username taken meanwhile raises IntegrityError with nothing written.
    """
    users = [
        User(
            username=username,
            first_name=row.first_name,
            last_name=row.last_name,
            email="",
            country=school.country,
            product_updates=False,
            password=make_password(None),  # unusable: "!" and random characters, nothing hashed
        )
        for row, username in zip(rows, usernames, strict=True)
    ]
    with transaction.atomic():
        User.objects.bulk_create(users)
    SchoolMembership.objects.bulk_create(
        [SchoolMembership(school=school, user=u, role=SchoolMembership.Role.STUDENT) for u in users]
    )
    SchoolStudentAccount.objects.bulk_create(
        [SchoolStudentAccount(user=u, school=school, registered_by=actor) for u in users]
    )
    hooks.record_students(
        children=users, school=school, actor=actor, guardian_emails=[row.parent_emails for row in rows]
    )
    return users


@transaction.atomic
def students_register(*, actor: User, school: School, rows: list[StudentRow]) -> list[User]:
    """Create school-registered student accounts (:func:`students_create`) from the roster page's form or CSV.

    All or nothing: any invalid row raises and nothing is written.
    """
    _require_roster_manager(actor=actor, school=school)
    if any(row.parent_emails for row in rows) and SchoolMembership.Role.ADMIN not in _roles(user=actor, school=school):
        raise CsvImportError(_("Only the school's administrators can record a student's parents."))
    errors = _validate_rows(list(enumerate(rows, start=1)), school=school)
    if errors:
        raise CsvImportError(errors)
    try:
        return students_create(actor=actor, school=school, rows=rows, usernames=_assign_usernames(rows))
    except IntegrityError as exc:
        raise CsvImportError(_("A username was taken a moment ago. Upload the file again.")) from exc


def student_parents_set(*, admin: User, school: School, student_id: int, emails: list[str]) -> list[str]:
    """A school administrator records (or clears) the parents' addresses of a student the school registered."""
    student = User.objects.filter(
        pk=student_id, school_memberships__school=school, school_memberships__role=SchoolMembership.Role.STUDENT
    ).first()
    if student is None:
        raise ValidationError(_("This student is not on the school's roster."), code="not_student")
    return hooks.set_guardians(child=student, school=school, actor=admin, emails=emails)


def students_import_csv(*, actor: User, school: School, data: bytes) -> list[User]:
    """Parse and register; errors name their CSV line and nothing of a failed upload is written."""
    _require_roster_manager(actor=actor, school=school)
    parsed = parse_student_csv(data=data)
    errors = _validate_rows(parsed, school=school)
    if errors:
        raise CsvImportError(errors)
    return students_register(actor=actor, school=school, rows=[row for _line, row in parsed])


def _new_password() -> str:
    words = [secrets.choice(_WORDS) for _ in range(3)]
    return "-".join(words) + f"-{secrets.randbelow(90) + 10}"


@transaction.atomic
def login_cards_issue(*, actor: User, school: School, student_ids: list[int]) -> list[LoginCard]:
    """Give each selected school-registered student a new first password and return their login cards.

    Passwords are never stored readable: printing the cards again issues new ones.
    """
    _require_roster_manager(actor=actor, school=school)
    students = list(
        User.objects.filter(
            pk__in=student_ids,
            school_student_account__school=school,
            school_memberships__school=school,
            school_memberships__role=SchoolMembership.Role.STUDENT,
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )
    if not students or len(students) != len(set(student_ids)):
        raise ValidationError(_("Choose students registered by this school."))
    cards = []
    for student in students:
        password = _new_password()
        student.password = make_password(password)
        cards.append(
            LoginCard(school=school.name, name=student.get_full_name(), username=student.username, password=password)
        )
    User.objects.bulk_update(students, ["password"])
    SchoolStudentAccount.objects.filter(user__in=students).update(first_password_issued_at=timezone.now())
    return cards


def student_membership_ensure(*, school: School, user: User) -> SchoolMembership:
    """A person with their own account becomes a student of ``school`` (after joining one of its classes by
    code, and for a child only after a parent's approval: grading.services.class_join_answer)."""
    membership, _created = SchoolMembership.objects.get_or_create(
        school=school, user=user, role=SchoolMembership.Role.STUDENT
    )
    return membership


@transaction.atomic
def school_grade_retention_set(*, admin: User, school: School, months: int) -> School:
    """The school's period for keeping the grades of its past classes, in months after each class ends: only an
    administrator of the school, within the bounds of ``School.grade_retention_months``."""
    if SchoolMembership.Role.ADMIN not in _roles(user=admin, school=school):
        raise ValidationError(_("Only an administrator of this school can do this."))
    if not GRADE_RETENTION_MONTHS_MIN <= months <= GRADE_RETENTION_MONTHS_MAX:
        raise ValidationError(
            _("Choose between %(min)d and %(max)d months.")
            % {"min": GRADE_RETENTION_MONTHS_MIN, "max": GRADE_RETENTION_MONTHS_MAX}
        )
    school.grade_retention_months = months
    school.save(update_fields=["grade_retention_months"])
    return school
