"""The demo's OneRoster zip (docs/demo) imports into the demo school, matching the students already there."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command

from accounts.models import User
from grading.models import SchoolClass
from mindomo.demo import load_all
from schools.models import RosteredPerson, School, SchoolMembership, TeacherInvitation
from schools.oneroster_sample import write_demo_zip

DEMO_ZIP = Path(settings.BASE_DIR) / "docs" / "demo" / "oneroster-maple-grove.zip"


def test_the_demo_zip_imports_into_the_demo_school(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    load_all()
    school = School.objects.get(name="Maple Grove Primary School")
    students_before = set(
        SchoolMembership.objects.filter(school=school, role="student").values_list("user_id", flat=True)
    )
    out = io.StringIO()
    call_command("roster_import", str(DEMO_ZIP), "--school", str(school.pk), stdout=out)
    linked = dict(RosteredPerson.objects.filter(school=school).values_list("sourced_id", "user_id"))
    assert {linked[sid] for sid in ("stu-mia", "stu-leo", "stu-zoe", "stu-sam")} == students_before  # matched
    assert User.objects.get(pk=linked["stu-ada"]).username == "ada.lovelace"
    assert User.objects.get(pk=linked["tea-turing"]).email == "teacher@maplegrove.example"
    assert TeacherInvitation.objects.filter(school=school, email="hopper@maplegrove.example").exists()
    assert SchoolClass.objects.filter(school=school, roster_sourced_id="cls-art").exists()
    out = io.StringIO()
    call_command("roster_import", str(DEMO_ZIP), "--school", str(school.pk), "--preview", stdout=out)
    assert "add: 0\nchange: 0\nremove: 0" in out.getvalue()  # the same file again changes nothing


def test_the_committed_demo_zip_is_the_one_the_code_writes(tmp_path: Path) -> None:
    import zipfile

    written = tmp_path / "demo.zip"
    write_demo_zip(str(written))
    committed, fresh = zipfile.ZipFile(DEMO_ZIP), zipfile.ZipFile(written)
    assert {i.filename: committed.read(i) for i in committed.infolist()} == {
        i.filename: fresh.read(i) for i in fresh.infolist()
    }
