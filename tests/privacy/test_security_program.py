"""docs/security-program.md names the file behind each safeguard: every cited file must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "docs" / "security-program.md"
# `path/to/file.ext` in backticks: a file of the repository
CITED = re.compile(r"`([A-Za-z0-9_./-]+\.(?:py|yml|md|example|html|toml))`")


def cited_files() -> list[str]:
    return sorted(set(CITED.findall(DOCUMENT.read_text(encoding="utf-8"))))


def test_every_file_the_security_program_cites_exists() -> None:
    cited = cited_files()
    assert len(cited) >= 15  # the table of safeguards is there
    missing = [path for path in cited if not (ROOT / path).is_file()]
    assert missing == []


def test_the_program_covers_what_the_rule_asks() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    for heading in (
        "The person responsible",
        "Safeguards implemented",
        "Annual review",
        "Incident response",
        "Backups",
    ):
        assert heading in text
    for safeguard in ("privacy/staff_security.py", "privacy/roles.py", "privacy/audit.py", "analytics/middleware.py"):
        assert f"`{safeguard}`" in text
