"""Writes OneRoster 1.1 / 1.2 CSV bulk zips shaped like 1EdTech's samples: the demo's roster file, the tests' files
and the benchmark's district file. Rows are written one by one (a 5,000-student file never sits in memory)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

MODIFIED = "2026-09-01T08:00:00.000Z"


@dataclass(frozen=True)
class SampleUser:
    sourced_id: str
    role: str
    given: str
    family: str
    username: str = ""
    email: str = ""
    agents: tuple[str, ...] = ()
    status: str = "active"
    org: str = "org-1"


@dataclass(frozen=True)
class SampleClass:
    sourced_id: str
    title: str
    status: str = "active"
    org: str = "org-1"


@dataclass(frozen=True)
class SampleEnrollment:
    sourced_id: str
    class_id: str
    user_id: str
    role: str = "student"
    primary: str = "false"
    status: str = "active"
    org: str = "org-1"


def _csv(archive: zipfile.ZipFile, name: str, header: list[str], rows: Iterable[list[str]]) -> None:
    with archive.open(name, "w") as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as text:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)


def write_zip(
    target: str | IO[bytes],
    *,
    users: Iterable[SampleUser],
    classes: Iterable[SampleClass],
    enrollments: Iterable[SampleEnrollment],
    orgs: Iterable[tuple[str, str]] = (("org-1", "Maple Grove Primary School"),),
    version: str = "1.1",
    extra: dict[str, bytes] | None = None,
) -> None:
    """Write the zip. ``users`` may be a generator (it is read twice for 1.2's roles.csv: pass a list then)."""
    orgs = list(orgs)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        manifest = [
            ["manifest.version", "1.0"],
            ["oneroster.version", version],
            *(
                [f"file.{n}", "bulk"]
                for n in ("academicSessions", "classes", "courses", "enrollments", "orgs", "users")
            ),
            ["file.demographics", "absent"],
            ["source.systemName", "Mindomo sample"],
        ]
        _csv(archive, "manifest.csv", ["propertyName", "value"], manifest)
        _csv(
            archive,
            "orgs.csv",
            ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
            [[sid, "active", MODIFIED, name, "school", "", ""] for sid, name in orgs],
        )
        _csv(
            archive,
            "academicSessions.csv",
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "title",
                "type",
                "startDate",
                "endDate",
                "parentSourcedId",
                "schoolYear",
            ],
            [["term-1", "active", MODIFIED, "2026-2027", "schoolYear", "2026-09-01", "2027-06-30", "", "2027"]],
        )
        _csv(
            archive,
            "courses.csv",
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "schoolYearSourcedId",
                "title",
                "courseCode",
                "grades",
                "orgSourcedId",
                "subjects",
                "subjectCodes",
            ],
            [["course-1", "active", MODIFIED, "term-1", "General", "GEN", "06", orgs[0][0], "", ""]],
        )
        base = ["sourcedId", "status", "dateLastModified", "enabledUser"]
        names = ["username", "userIds", "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone"]
        users = list(users) if version == "1.2" else users
        if version == "1.1":
            header = [*base, "orgSourcedIds", "role", *names, "agentSourcedIds", "grades", "password"]
            rows = (
                [
                    u.sourced_id,
                    u.status,
                    MODIFIED,
                    "true",
                    u.org,
                    u.role,
                    u.username,
                    "",
                    u.given,
                    u.family,
                    "",
                    "",
                    u.email,
                    "",
                    "",
                    ",".join(u.agents),
                    "",
                    "",
                ]
                for u in users
            )
        else:
            header = [
                *base,
                "username",
                "userIds",
                "givenName",
                "familyName",
                "middleName",
                "preferredFirstName",
                "preferredMiddleName",
                "preferredLastName",
                "pronouns",
                "identifier",
                "email",
                "sms",
                "phone",
                "agentSourcedIds",
                "grades",
                "password",
                "userMasterIdentifier",
                "resourceSourcedIds",
                "primaryOrgSourcedId",
            ]
            rows = (
                [
                    u.sourced_id,
                    u.status,
                    MODIFIED,
                    "true",
                    u.username,
                    "",
                    u.given,
                    u.family,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    u.email,
                    "",
                    "",
                    ",".join(u.agents),
                    "",
                    "",
                    "",
                    "",
                    u.org,
                ]
                for u in users
            )
        _csv(archive, "users.csv", header, rows)
        if version == "1.2":
            _csv(
                archive,
                "roles.csv",
                [
                    "sourcedId",
                    "status",
                    "dateLastModified",
                    "userSourcedId",
                    "roleType",
                    "role",
                    "beginDate",
                    "endDate",
                    "orgSourcedId",
                    "userProfileSourcedId",
                ],
                (
                    [f"role-{u.sourced_id}", "active", MODIFIED, u.sourced_id, "primary", u.role, "", "", u.org, ""]
                    for u in users
                ),
            )
        _csv(
            archive,
            "classes.csv",
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "title",
                "grades",
                "courseSourcedId",
                "classCode",
                "classType",
                "location",
                "schoolSourcedId",
                "termSourcedIds",
                "subjects",
                "subjectCodes",
                "periods",
            ],
            (
                [
                    c.sourced_id,
                    c.status,
                    MODIFIED,
                    c.title,
                    "06",
                    "course-1",
                    "",
                    "scheduled",
                    "",
                    c.org,
                    "term-1",
                    "",
                    "",
                    "",
                ]
                for c in classes
            ),
        )
        _csv(
            archive,
            "enrollments.csv",
            [
                "sourcedId",
                "status",
                "dateLastModified",
                "classSourcedId",
                "schoolSourcedId",
                "userSourcedId",
                "role",
                "primary",
                "beginDate",
                "endDate",
            ],
            (
                [e.sourced_id, e.status, MODIFIED, e.class_id, e.org, e.user_id, e.role, e.primary, "", ""]
                for e in enrollments
            ),
        )
        for name, data in (extra or {}).items():
            archive.writestr(name, data)


def write_demo_zip(target: str | IO[bytes]) -> None:
    """The demo's roster of Maple Grove Primary School (``docs/demo/oneroster-maple-grove.zip``): the four demo
    students (matched to the accounts already there by name), two new ones, the demo teacher (matched by email),
    a new teacher (invited), two classes and the parents' addresses."""
    org = "maple-grove"
    students = [
        SampleUser("stu-mia", "student", "Mia", "Khan", agents=("par-khan",), org=org),
        SampleUser("stu-leo", "student", "Leo", "Okafor", agents=("par-okafor",), org=org),
        SampleUser("stu-zoe", "student", "Zoe", "Novak", org=org),
        SampleUser("stu-sam", "student", "Sam", "Ito", org=org),
        SampleUser("stu-ada", "student", "Ada", "Lovelace", username="ada.lovelace", agents=("par-lovelace",), org=org),
        SampleUser("stu-kwame", "student", "Kwame", "Mensah", username="kwame.mensah", org=org),
    ]
    staff = [
        SampleUser("tea-turing", "teacher", "Alan", "Turing", email="teacher@maplegrove.example", org=org),
        SampleUser("tea-hopper", "teacher", "Grace", "Hopper", email="hopper@maplegrove.example", org=org),
    ]
    guardians = [
        SampleUser("par-khan", "guardian", "Amir", "Khan", email="amir.khan@family.example", org=org),
        SampleUser("par-okafor", "parent", "Ngozi", "Okafor", email="ngozi.okafor@family.example", org=org),
        SampleUser("par-lovelace", "guardian", "Anne", "Lovelace", email="anne.lovelace@family.example", org=org),
    ]
    classes = [
        SampleClass("cls-science", "Year 6 Science (roster)", org=org),
        SampleClass("cls-art", "Year 6 Art", org=org),
    ]
    enrollments = [
        SampleEnrollment("enr-t1", "cls-science", "tea-turing", role="teacher", primary="true", org=org),
        SampleEnrollment("enr-t2", "cls-art", "tea-hopper", role="teacher", primary="true", org=org),
        *(SampleEnrollment(f"enr-s{i}", "cls-science", s.sourced_id, org=org) for i, s in enumerate(students[:4])),
        *(SampleEnrollment(f"enr-a{i}", "cls-art", s.sourced_id, org=org) for i, s in enumerate(students[2:])),
    ]
    write_zip(
        target,
        users=[*students, *staff, *guardians],
        classes=classes,
        enrollments=enrollments,
        orgs=[(org, "Maple Grove Primary School")],
    )
