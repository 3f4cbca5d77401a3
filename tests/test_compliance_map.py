"""The compliance map (docs/compliance.toml -> docs/compliance.md) cites only what exists, and its tests run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import compliance

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_map_is_current_and_every_citation_exists() -> None:
    duty_map = compliance.load()
    assert compliance.problems(duty_map) == []
    groups = {d.group for d in duty_map.duties}
    assert groups == {"coppa", "gdpr", "ferpa", "policy"}
    sources = " ".join(d.source for d in duty_map.duties)
    for law in ("§312.3", "§312.4(c)", "§312.4(d)", "§312.5", "§312.6", "§312.7", "§312.8", "§312.9", "§312.10"):
        assert law in sources
    for article in ("5(1)(c)", "5(1)(e)", "7(3)", "Art. 8", "12", "13", "15", "16", "Art. 17", "17(3)(b)", "20", "25"):
        assert article in sources
    assert "Art. 30" in sources
    assert "Art. 32" in sources
    assert "FERPA" in sources


def test_the_readme_links_the_map() -> None:
    assert "(docs/compliance.md)" in (ROOT / "README.md").read_text(encoding="utf-8")


def _write(tmp_path: Path, duties: str) -> Path:
    source = tmp_path / "map.toml"
    source.write_text('[[group]]\nid = "g"\ntitle = "G"\n' + duties, encoding="utf-8")
    return source


def _base_with_an_xfail_test(tmp_path: Path) -> Path:
    """A copy of the cited real files and one test file marked xfail through a module-level name."""
    base = tmp_path / "repo"
    for path in ("privacy/services.py", "tests/privacy/test_retention.py"):
        (base / path).parent.mkdir(parents=True, exist_ok=True)
        (base / path).write_text((ROOT / path).read_text(encoding="utf-8"), encoding="utf-8")
    (base / "tests/ops").mkdir(parents=True)
    (base / "tests/ops/test_marked.py").write_text(
        "import pytest\n\nNOT_YET = pytest.mark.xfail(reason='not yet', strict=False)\n\n\n"
        "@NOT_YET\ndef test_the_worker_killed_in_the_middle_of_an_expiry_batch():\n    pass\n",
        encoding="utf-8",
    )
    return base


def test_the_check_names_a_missing_file_function_test_a_skip_mark_and_a_stale_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compliance, "BASE_DIR", _base_with_an_xfail_test(tmp_path))
    source = _write(
        tmp_path,
        """
[[duty]]
id = "a"
group = "g"
source = "S"
duty = "D"
status = "met"
code = ["privacy/services.py::retention_apply", "privacy/services.py::no_such_function", "no/such/file.py"]
tests = [
  "tests/privacy/test_retention.py::test_a_dry_run_lists_exactly_what_the_real_run_deletes",
  "tests/privacy/test_retention.py::test_that_does_not_exist",
  "tests/ops/test_marked.py::test_the_worker_killed_in_the_middle_of_an_expiry_batch",
]

[[duty]]
id = "b"
group = "g"
source = "S"
duty = "D"
status = "not met"
""",
    )
    duty_map = compliance.load(source)
    page = tmp_path / "map.md"

    found = compliance.problems(duty_map, document=page)

    assert "[a] cited function or class does not exist: privacy/services.py::no_such_function" in found
    assert "[a] cited file does not exist: no/such/file.py" in found
    assert "[a] cited test does not exist: tests/privacy/test_retention.py::test_that_does_not_exist" in found
    assert any(p.startswith("[a] cited test is marked xfail: tests/ops/test_marked.py::") for p in found)
    assert "[b] a duty that is not fully met in the code says why (reason)" in found
    assert any("differs from its source" in p for p in found)
    assert len(found) == 6

    page.write_text(compliance.render(duty_map), encoding="utf-8")
    assert not any("differs from its source" in p for p in compliance.problems(duty_map, document=page))


def test_a_run_in_which_a_cited_test_is_skipped_fails(tmp_path: Path) -> None:
    proof = tmp_path / "proof"
    proof.mkdir()
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (proof / "test_proof.py").write_text(
        "import pytest\n\n"
        "def test_cited_and_skipped():\n    pytest.skip('no server here')\n\n"
        "def test_cited_and_run():\n    pass\n\n"
        "def test_not_cited_and_skipped():\n    pytest.skip('fine')\n",
        encoding="utf-8",
    )
    source = _write(
        tmp_path,
        """
[[duty]]
id = "proved"
group = "g"
source = "S"
duty = "D"
status = "met"
tests = ["proof/test_proof.py::test_cited_and_skipped", "proof/test_proof.py::test_cited_and_run"]
""",
    )

    def run(*select: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:django",
                "-p",
                "no:cacheprovider",
                "-p",
                "tests.support.compliance_plugin",
                *select,
            ],
            cwd=tmp_path,
            env={**os.environ, "COMPLIANCE_MAP": str(source), "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
        )

    failed = run("proof/test_proof.py")
    assert failed.returncode == 1, failed.stdout
    assert "proof/test_proof.py::test_cited_and_skipped (proves proved) was skipped" in failed.stdout
    assert "test_not_cited_and_skipped" not in failed.stdout.split("cited tests that did not run")[1]

    passed = run("proof/test_proof.py::test_cited_and_run", "proof/test_proof.py::test_not_cited_and_skipped")
    assert passed.returncode == 0, passed.stdout
