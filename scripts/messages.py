"""The translation catalogues: update, compile and check them (README, "Languages").

``python scripts/messages.py update``   makemessages for every language of settings.LANGUAGES (`make messages`)
``python scripts/messages.py compile``  build the .mo files from the .po files (Babel, no gettext needed)
``python scripts/messages.py check``    fail (exit 1) when the catalogues are not complete and current:
    - makemessages on the sources would add a msgid (or plural, or context) a catalogue lacks, or drop one;
    - a catalogue other than English has an untranslated or fuzzy entry;
    - a translation's placeholders (``%(name)s``, ``%s``, ``{name}``) differ from its msgid's.

``update`` and ``check`` need GNU gettext (xgettext, msgmerge: ``apt-get install gettext``); ``compile`` only
Python. English is the source language: its catalogue exists so that every language has one, and may stay empty.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LOCALE_DIR = BASE_DIR / "locale"
SOURCE_LANGUAGE = "en"
# What makemessages reads: our code and templates (not the virtualenv, tests, benchmarks or build output).
IGNORE = [".venv", ".var", "staticfiles", "media", "node_modules", "tests", "bench", "scripts", "locale", "build"]
MAKEMESSAGES_ARGS = ["--no-wrap", "--add-location=file", "--no-obsolete", *(f"--ignore={p}" for p in IGNORE)]
# Tree copied for the check (the sources and the committed catalogues, nothing generated).
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".var", "staticfiles", "media", "node_modules", "__pycache__", "*.mo", ".*_cache", "test-results"
)
PLACEHOLDER = re.compile(r"%\((?P<named>\w+)\)[-+ #0]*\d*(?:\.\d+)?[sdifrxX]|%(?P<pos>[sdifr])|\{(?P<brace>\w*)\}")


def _languages() -> list[str]:
    _django_env()
    from django.conf import settings

    return [code for code, _name in settings.LANGUAGES]


def _django_env() -> None:
    # makemessages only reads settings: give the variables they require harmless values when unset.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.test")
    os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def _makemessages(root: Path, languages: list[str]) -> None:
    for tool in ("xgettext", "msgmerge", "msguniq"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: install GNU gettext (apt-get install gettext)")
    args = [sys.executable, "manage.py", "makemessages", *MAKEMESSAGES_ARGS, "-v", "0"]
    for language in languages:
        args += ["-l", language]
    env = {**os.environ}
    env.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.test")
    env.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")
    env.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")
    subprocess.run(args, cwd=root, env=env, check=True)


def update() -> int:
    _makemessages(BASE_DIR, _languages())
    return 0


def compile_all() -> int:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle)
        with po_path.with_suffix(".mo").open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
    return 0


def _key(message: object) -> tuple[str | None, tuple[str, ...]]:
    msg_id = message.id  # type: ignore[attr-defined]
    ids = tuple(msg_id) if isinstance(msg_id, (tuple, list)) else (msg_id,)
    return message.context, ids  # type: ignore[attr-defined]


def placeholders(text: str) -> list[str]:
    found = []
    for match in PLACEHOLDER.finditer(text.replace("%%", "")):
        if match.group("named"):
            found.append(f"%({match.group('named')})")
        elif match.group("pos"):
            found.append("%" + match.group("pos"))
        else:
            found.append("{" + match.group("brace") + "}")
    return sorted(found)


def _placeholder_problems(message: object) -> list[str]:
    msg_id = message.id  # type: ignore[attr-defined]
    msg_str = message.string  # type: ignore[attr-defined]
    flags = message.flags  # type: ignore[attr-defined]
    brace = "python-brace-format" in flags
    percent = "python-format" in flags
    if not (brace or percent):
        return []

    def relevant(text: str) -> list[str]:
        return [p for p in placeholders(text) if (p.startswith("{") and brace) or (p.startswith("%") and percent)]

    problems = []
    if isinstance(msg_id, (tuple, list)):
        expected = relevant(msg_id[1])
        for index, form in enumerate(msg_str):
            got = relevant(form)
            # a form for one value may leave out a named count ("un jour"), never add or misspell a placeholder
            missing = set(expected) - set(got)
            if got != expected and not (set(got) <= set(expected) and all(p.startswith("%(") for p in missing)):
                problems.append(f"form {index}: {got} for {expected}")
    else:
        expected, got = relevant(msg_id), relevant(msg_str)
        if got != expected:
            problems.append(f"{got} for {expected}")
    return problems


def check() -> int:
    from babel.messages.pofile import read_po

    languages = _languages()
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "src"
        shutil.copytree(BASE_DIR, root, ignore=COPY_IGNORE, symlinks=True)
        _makemessages(root, languages)
        for language in languages:
            relative = Path(language) / "LC_MESSAGES" / "django.po"
            committed_path = LOCALE_DIR / relative
            if not committed_path.exists():
                failures.append(f"{relative}: missing (run `make messages`)")
                continue
            with committed_path.open("rb") as handle:
                committed = read_po(handle)
            with (root / "locale" / relative).open("rb") as handle:
                fresh = read_po(handle)
            have = {_key(m) for m in committed if m.id}
            want = {_key(m) for m in fresh if m.id}
            for _context, ids in sorted(want - have, key=str):
                failures.append(f"{relative}: new msgid not in the catalogue (run `make messages`): {ids[0]!r}")
            for _context, ids in sorted(have - want, key=str):
                failures.append(f"{relative}: msgid no longer in the sources (run `make messages`): {ids[0]!r}")
            if language == SOURCE_LANGUAGE:
                continue
            for message in committed:
                if not message.id:
                    continue
                label = (message.id[0] if isinstance(message.id, (tuple, list)) else message.id)[:70]
                strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
                if message.fuzzy:
                    failures.append(f"{relative}: fuzzy: {label!r}")
                elif not all(strings):
                    failures.append(f"{relative}: untranslated: {label!r}")
                else:
                    for problem in _placeholder_problems(message):
                        failures.append(f"{relative}: placeholders {problem}: {label!r}")
                expected_forms = committed.num_plurals
                if isinstance(message.id, (tuple, list)) and len(strings) != expected_forms:
                    failures.append(f"{relative}: {len(strings)} plural forms, {expected_forms} expected: {label!r}")
    for failure in failures:
        print(failure)
    if failures:
        print(f"\n{len(failures)} problem(s) in the catalogues. See README, 'Languages'.")
        return 1
    print(f"catalogues complete and current: {', '.join(languages)}")
    return 0


def main(argv: list[str]) -> int:
    commands = {"update": update, "compile": compile_all, "check": check}
    if len(argv) != 2 or argv[1] not in commands:
        print(__doc__)
        return 2
    return commands[argv[1]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
