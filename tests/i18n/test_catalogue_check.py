"""The catalogue check (`make check-messages`, part of lint) fails on each kind of gap, on a copy of the project."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po
from django.conf import settings

from scripts.messages import COPY_IGNORE, placeholders

BASE_DIR = Path(settings.BASE_DIR)


def test_placeholders_are_read_by_name_and_position() -> None:
    assert placeholders("Hello %(name)s, %(count)d new, %s and {school}; 100%% sure") == sorted(
        ["%(name)", "%(count)", "%s", "{school}"]
    )


def _edit_catalogue(path: Path, edit: dict[str, str], fuzzy: str) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id in edit:
            message.string = edit[message.id]
        if message.id == fuzzy:
            message.flags.add("fuzzy")
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0)


def test_the_check_fails_on_a_new_string_a_fuzzy_entry_and_a_wrong_placeholder(tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(BASE_DIR, copy, ignore=COPY_IGNORE, symlinks=True)
    # a developer adds a string and forgets `make messages`...
    template = copy / "templates" / "pages" / "home.html"
    template.write_text(template.read_text() + '\n{% translate "A brand new sentence nobody translated." %}\n')
    # ...a translator leaves an entry fuzzy, another drops a placeholder
    _edit_catalogue(
        copy / "locale" / "de" / "LC_MESSAGES" / "django.po",
        edit={"Invitation sent to %(email)s.": "Einladung gesendet an %(mail)s."},
        fuzzy="Save profile",
    )

    result = subprocess.run(
        [sys.executable, "scripts/messages.py", "check"], cwd=copy, capture_output=True, text=True, check=False
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert "new msgid not in the catalogue" in result.stdout
    assert "A brand new sentence" in result.stdout
    assert "de/LC_MESSAGES/django.po: fuzzy: 'Save profile'" in result.stdout
    assert "placeholders" in result.stdout
    assert "Invitation sent to" in result.stdout
