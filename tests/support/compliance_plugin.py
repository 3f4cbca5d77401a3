"""A test the compliance map cites must run: a cited test skipped (or xfailed) during the run fails the session.

The map (docs/compliance.toml) is the auditor's "how do we know": a test that proves a duty and was skipped
proved nothing. Registered by tests/conftest.py. Only the tests of the run are judged (a partial run judges its
part); `make test` runs them all. ``scripts/compliance.py check`` covers skip marks and missing tests statically.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts import compliance

_skipped: dict[str, str] = {}
_cited: dict[str, list[str]] = {}


def _base(node_id: str) -> str:
    return node_id.split("[", 1)[0]


def pytest_sessionstart(session: pytest.Session) -> None:
    _skipped.clear()
    _cited.clear()
    _cited.update(compliance.cited_tests())


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not report.skipped:
        return
    if report.nodeid in _cited or _base(report.nodeid) in _cited:
        longrepr = report.longrepr
        reason = "xfail" if hasattr(report, "wasxfail") else str(longrepr[-1] if isinstance(longrepr, tuple) else "")
        _skipped[report.nodeid] = reason


def cited_but_skipped() -> dict[str, str]:
    return dict(_skipped)


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    if _skipped and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _skipped:
        return
    terminalreporter.section("compliance map: cited tests that did not run", red=True)
    for node_id, reason in sorted(_skipped.items()):
        duties = ", ".join(_cited.get(node_id) or _cited.get(_base(node_id)) or [])
        terminalreporter.line(f"{node_id} (proves {duties}) was skipped: {reason}", red=True)
