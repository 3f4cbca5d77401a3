"""Reading a OneRoster 1.1 or 1.2 CSV bulk zip (1EdTech), streaming, into what the product needs.

Only these files are read: ``manifest.csv``, ``orgs.csv``, ``users.csv``, ``roles.csv`` (1.2, where a person's
roles live), ``classes.csv``, ``enrollments.csv``, ``academicSessions.csv`` and ``courses.csv``.
``demographics.csv`` (birth dates, sex, ethnicity) is never opened, nor any other file. Every CSV is read row
by row from the zip (never whole into memory), through a counter that stops at the size limit whatever the
zip's directory claims (zip bombs), and must be UTF-8.

Of each person only the sourcedId, status, role, given and family name, username, email and the guardians
(``agentSourcedIds``) are kept; of each class its sourcedId, status, title and school; of each enrolment the
class, the person and the role. Nothing is written here: :func:`read` returns a :class:`Roster` and the
problems, each naming its file and line.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _

# The spec's role vocabulary (1.1 and 1.2): anything else is an error; roles the product does not use are skipped.
SPEC_ROLES = {
    "administrator",
    "aide",
    "counselor",
    "districtAdministrator",
    "guardian",
    "parent",
    "principal",
    "proctor",
    "relative",
    "siteAdministrator",
    "student",
    "systemAdministrator",
    "teacher",
}
ROLE_MAP = {"student": "student", "teacher": "teacher", "administrator": "admin", "siteAdministrator": "admin"}
GUARDIAN_ROLES = {"guardian", "parent"}
STATUSES = {"", "active", "tobedeleted"}
ORG_TYPES = {"department", "school", "district", "local", "state", "national"}

REQUIRED = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "classes.csv": ("sourcedId", "title", "schoolSourcedId"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "academicSessions.csv": ("sourcedId", "title", "type"),
    "courses.csv": ("sourcedId", "title"),
    "roles.csv": ("sourcedId", "userSourcedId", "role", "orgSourcedId"),
}
NEEDED = ("manifest.csv", "orgs.csv", "users.csv", "classes.csv", "enrollments.csv")
OPTIONAL = ("academicSessions.csv", "courses.csv", "roles.csv")
IGNORED = ("demographics.csv",)


class RosterFileError(Exception):
    """The zip cannot be read at all (not a zip, too large, a zip bomb): nothing of it is looked at."""


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 0: the file as a whole
    message: str

    def __str__(self) -> str:
        if self.line:
            return _("%(file)s, line %(line)d: %(message)s") % {
                "file": self.file,
                "line": self.line,
                "message": self.message,
            }
        return _("%(file)s: %(message)s") % {"file": self.file, "message": self.message}


@dataclass
class Person:
    sourced_id: str
    role: str  # "student", "teacher", "admin", "guardian"
    given_name: str
    family_name: str
    username: str
    email: str
    agents: tuple[str, ...]
    active: bool
    orgs: tuple[str, ...]
    line: int


@dataclass
class RosterClass:
    sourced_id: str
    title: str
    school: str
    active: bool
    line: int
    terms: tuple[str, ...] = ()  # termSourcedIds: the academic sessions the class runs in


@dataclass
class Roster:
    version: str = ""
    orgs: dict[str, str] = field(default_factory=dict)  # school sourcedId -> name (orgs of type school)
    people: dict[str, Person] = field(default_factory=dict)
    classes: dict[str, RosterClass] = field(default_factory=dict)
    # (class sourcedId, user sourcedId) -> role ("student" or "teacher"), active enrolments only
    enrollments: dict[tuple[str, str], str] = field(default_factory=dict)
    primary_teachers: dict[str, str] = field(default_factory=dict)  # class -> teacher marked primary
    ignored_files: list[str] = field(default_factory=list)
    skipped_roles: dict[str, int] = field(default_factory=dict)
    # academic session sourcedId -> its endDate as written (academicSessions.csv): a class's last day comes from
    # its terms' ends (grading.retention.class_ends_from_roster); nothing else of the file is kept
    session_ends: dict[str, str] = field(default_factory=dict)


class _Limited(io.RawIOBase):
    """Reads a zip member and raises once more than ``limit`` bytes came out (the directory may lie)."""

    def __init__(self, raw: IO[bytes], limit: int, name: str) -> None:
        self.raw, self.left, self.name = raw, limit, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(min(len(buffer), self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise RosterFileError(
                _("%(file)s is larger than %(mb)d MB once unpacked.")
                % {"file": self.name, "mb": settings.ROSTER_MEMBER_MAX_BYTES // (1024 * 1024)}
            )
        buffer[: len(data)] = data
        return len(data)


def _open(source: str | IO[bytes]) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RosterFileError(_("This file is not a OneRoster zip (a .zip of CSV files).")) from exc
    total = 0
    for info in archive.infolist():
        if info.filename.rsplit("/", 1)[-1] in IGNORED:
            continue
        if info.file_size > settings.ROSTER_MEMBER_MAX_BYTES:
            raise RosterFileError(
                _("%(file)s is larger than %(mb)d MB once unpacked.")
                % {"file": info.filename, "mb": settings.ROSTER_MEMBER_MAX_BYTES // (1024 * 1024)}
            )
        if info.compress_size and info.file_size / info.compress_size > settings.ROSTER_MAX_RATIO:
            raise RosterFileError(_("%(file)s is packed suspiciously tightly (a zip bomb?).") % {"file": info.filename})
        if info.flag_bits & 0x1:
            raise RosterFileError(_("The zip is encrypted."))
        total += info.file_size
    if total > settings.ROSTER_TOTAL_MAX_BYTES:
        raise RosterFileError(
            _("The files in the zip are larger than %(mb)d MB once unpacked.")
            % {"mb": settings.ROSTER_TOTAL_MAX_BYTES // (1024 * 1024)}
        )
    return archive


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The zip's CSV files by base name (files may sit in one folder)."""
    found: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        if not info.is_dir():
            found.setdefault(info.filename.rsplit("/", 1)[-1], info)
    return found


def _rows(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, problems: list[Problem]
) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of one CSV as (line, {column: value}), streamed; a missing required column stops the file."""
    raw = _Limited(archive.open(info), settings.ROSTER_MEMBER_MAX_BYTES, name)
    text = io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text, strict=True)
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            problems.append(Problem(name, 0, _("the file is empty (a header row is required).")))
            return
        columns = [h.strip() for h in header]
        missing = [c for c in REQUIRED.get(name, ()) if c not in columns]
        if missing:
            for column in missing:
                problems.append(Problem(name, 1, _("the required column %(column)s is missing.") % {"column": column}))
            return
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(columns):
                problems.append(
                    Problem(
                        name,
                        line,
                        _("expected %(expected)d columns, found %(found)d.")
                        % {"expected": len(columns), "found": len(record)},
                    )
                )
                continue
            yield line, {c: v.strip() for c, v in zip(columns, record, strict=True)}
    except UnicodeDecodeError:
        problems.append(Problem(name, line + 1, _("the file is not UTF-8 text.")))
    except csv.Error:
        problems.append(Problem(name, line + 1, _("the CSV quoting is broken.")))


def _common(name: str, line: int, row: dict[str, str], seen: set[str], problems: list[Problem]) -> bool:
    """sourcedId present and unique in its file, status and dateLastModified valid. False: skip the row."""
    ok = True
    sourced_id = row.get("sourcedId", "")
    if not sourced_id:
        problems.append(Problem(name, line, _("the sourcedId is empty.")))
        ok = False
    elif sourced_id in seen:
        problems.append(Problem(name, line, _("the sourcedId %(id)s appears twice.") % {"id": sourced_id}))
        ok = False
    seen.add(sourced_id)
    if row.get("status", "") not in STATUSES:
        problems.append(
            Problem(name, line, _("unknown status %(status)s (active or tobedeleted).") % {"status": row["status"]})
        )
        ok = False
    modified = row.get("dateLastModified", "")
    if modified:
        try:
            datetime.fromisoformat(modified.replace("Z", "+00:00"))
        except ValueError:
            problems.append(Problem(name, line, _("dateLastModified is not a date and time.")))
            ok = False
    return ok


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _read_manifest(archive: zipfile.ZipFile, info: zipfile.ZipInfo, roster: Roster, problems: list[Problem]) -> None:
    properties = {}
    for _line, row in _rows(archive, info, "manifest.csv", problems):
        properties[row.get("propertyName", "")] = row.get("value", "")
    version = properties.get("oneroster.version", "")
    if version not in ("1.1", "1.2"):
        problems.append(
            Problem("manifest.csv", 0, _("oneroster.version must be 1.1 or 1.2, not %(v)s.") % {"v": version or "-"})
        )
    roster.version = version
    for name in ("orgs.csv", "users.csv", "classes.csv", "enrollments.csv"):
        mode = properties.get("file." + name.removesuffix(".csv"), "bulk")
        if mode != "bulk":
            problems.append(
                Problem(
                    "manifest.csv",
                    0,
                    _("%(file)s must be a bulk file (delta files are not supported).") % {"file": name},
                )
            )


def _read_users(rows: Iterator[tuple[int, dict[str, str]]], roster: Roster, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for line, row in rows:
        if not _common("users.csv", line, row, seen, problems):
            continue
        role = row.get("role", "")
        if roster.version == "1.1" or role:
            if role not in SPEC_ROLES:
                problems.append(Problem("users.csv", line, _("unknown role %(role)s.") % {"role": role or "-"}))
                continue
        person = Person(
            sourced_id=row["sourcedId"],
            role=ROLE_MAP.get(role, "guardian" if role in GUARDIAN_ROLES else ("" if role else "?")),
            given_name=row["givenName"],
            family_name=row["familyName"],
            username=row.get("username", ""),
            email=row.get("email", ""),
            agents=_split(row.get("agentSourcedIds", "")),
            active=row.get("status", "") != "tobedeleted" and row.get("enabledUser", "true").lower() != "false",
            orgs=_split(row.get("orgSourcedIds", "") or row.get("primaryOrgSourcedId", "")),
            line=line,
        )
        if person.role in ("student", "teacher", "admin", "?") and not (person.given_name and person.family_name):
            problems.append(Problem("users.csv", line, _("the given name or the family name is missing.")))
            continue
        if not person.role:
            roster.skipped_roles[role] = roster.skipped_roles.get(role, 0) + 1
        roster.people[person.sourced_id] = person


def _read_roles(rows: Iterator[tuple[int, dict[str, str]]], roster: Roster, problems: list[Problem]) -> None:
    """OneRoster 1.2 keeps roles in roles.csv: a person's primary role (or their only one) decides."""
    seen: set[str] = set()
    chosen: dict[str, tuple[bool, str, str]] = {}
    for line, row in rows:
        if not _common("roles.csv", line, row, seen, problems) or row.get("status", "") == "tobedeleted":
            continue
        role = row["role"]
        if role not in SPEC_ROLES:
            problems.append(Problem("roles.csv", line, _("unknown role %(role)s.") % {"role": role or "-"}))
            continue
        user = row["userSourcedId"]
        if user not in roster.people:
            problems.append(Problem("roles.csv", line, _("the user %(id)s is not in users.csv.") % {"id": user}))
            continue
        primary = row.get("roleType", "primary") == "primary"
        if user not in chosen or (primary and not chosen[user][0]):
            chosen[user] = (primary, role, row["orgSourcedId"])
    for user, (_primary, role, org) in chosen.items():
        person = roster.people[user]
        if person.role == "?":
            person.role = ROLE_MAP.get(role, "guardian" if role in GUARDIAN_ROLES else "")
            person.orgs = tuple(dict.fromkeys((*person.orgs, org)))
            if not person.role:
                roster.skipped_roles[role] = roster.skipped_roles.get(role, 0) + 1


def _read_classes(rows: Iterator[tuple[int, dict[str, str]]], roster: Roster, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for line, row in rows:
        if not _common("classes.csv", line, row, seen, problems):
            continue
        if not row["title"]:
            problems.append(Problem("classes.csv", line, _("the class has no title.")))
            continue
        if row["schoolSourcedId"] not in roster.orgs:
            problems.append(
                Problem(
                    "classes.csv", line, _("the school %(id)s is not in orgs.csv.") % {"id": row["schoolSourcedId"]}
                )
            )
            continue
        roster.classes[row["sourcedId"]] = RosterClass(
            sourced_id=row["sourcedId"],
            title=row["title"][:120],
            school=row["schoolSourcedId"],
            active=row.get("status", "") != "tobedeleted",
            line=line,
            terms=tuple(term.strip() for term in row.get("termSourcedIds", "").split(",") if term.strip()),
        )


def _read_enrollments(rows: Iterator[tuple[int, dict[str, str]]], roster: Roster, problems: list[Problem]) -> None:
    seen: set[str] = set()
    for line, row in rows:
        if not _common("enrollments.csv", line, row, seen, problems):
            continue
        role = row["role"]
        if role not in SPEC_ROLES:
            problems.append(Problem("enrollments.csv", line, _("unknown role %(role)s.") % {"role": role or "-"}))
            continue
        klass, user = row["classSourcedId"], row["userSourcedId"]
        if klass not in roster.classes:
            problems.append(
                Problem("enrollments.csv", line, _("the class %(id)s is not in classes.csv.") % {"id": klass})
            )
            continue
        if user not in roster.people:
            problems.append(Problem("enrollments.csv", line, _("the user %(id)s is not in users.csv.") % {"id": user}))
            continue
        if row.get("status", "") == "tobedeleted" or role not in ("student", "teacher"):
            continue
        roster.enrollments[(klass, user)] = role
        if role == "teacher" and (row.get("primary", "").lower() == "true" or klass not in roster.primary_teachers):
            roster.primary_teachers[klass] = user


def _read_references(
    rows: Iterator[tuple[int, dict[str, str]]], name: str, problems: list[Problem], roster: Roster
) -> None:
    """academicSessions.csv and courses.csv: checked (sourcedIds, statuses); of the sessions, only each active
    one's ``endDate`` is kept (a class's last day, for its grades' retention)."""
    seen: set[str] = set()
    for line, row in rows:
        if (
            _common(name, line, row, seen, problems)
            and name == "academicSessions.csv"
            and row.get("status", "") != "tobedeleted"
            and row.get("endDate", "").strip()
        ):
            roster.session_ends[row["sourcedId"]] = row["endDate"].strip()


def read(source: str | IO[bytes]) -> tuple[Roster, list[Problem]]:
    """Read the zip at ``source`` (a path or a binary file). Raises RosterFileError for a zip that cannot be read
    at all; otherwise returns the roster and every problem found (each by file and line)."""
    archive = _open(source)
    roster = Roster()
    problems: list[Problem] = []
    with archive:
        members = _members(archive)
        for name in NEEDED:
            if name not in members:
                problems.append(Problem(name, 0, _("the file is missing from the zip.")))
        if problems:
            return roster, problems
        roster.ignored_files = sorted(n for n in members if n not in (*NEEDED, *OPTIONAL))
        try:
            _read_manifest(archive, members["manifest.csv"], roster, problems)
            seen: set[str] = set()
            for line, row in _rows(archive, members["orgs.csv"], "orgs.csv", problems):
                if _common("orgs.csv", line, row, seen, problems) and row["type"] == "school":
                    roster.orgs[row["sourcedId"]] = row["name"]
                elif row.get("type") not in ORG_TYPES:
                    problems.append(
                        Problem("orgs.csv", line, _("unknown organisation type %(t)s.") % {"t": row.get("type")})
                    )
            _read_users(_rows(archive, members["users.csv"], "users.csv", problems), roster, problems)
            if "roles.csv" in members:
                _read_roles(_rows(archive, members["roles.csv"], "roles.csv", problems), roster, problems)
            for person in roster.people.values():
                if person.role == "?":
                    problems.append(
                        Problem("users.csv", person.line, _("the person has no role (users.csv or roles.csv)."))
                    )
            _read_classes(_rows(archive, members["classes.csv"], "classes.csv", problems), roster, problems)
            _read_enrollments(_rows(archive, members["enrollments.csv"], "enrollments.csv", problems), roster, problems)
            for name in ("academicSessions.csv", "courses.csv"):
                if name in members:
                    _read_references(_rows(archive, members[name], name, problems), name, problems, roster)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
            raise RosterFileError(_("The zip is damaged and cannot be read.")) from exc
    return roster, problems
