"""schemathesis against /api/openapi.json on a live server: all its checks (no 5xx, responses conform to the
schema, status codes documented...), bounded in time, once per role of a seeded database so authenticated
operations are exercised. 0 failures."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.accounts.factories import PASSWORD, UserFactory
from tests.billing.helpers import paid_invoice
from tests.consent.portal_helpers import CHILD_PASSWORD, consented_child
from tests.grading.factories import (
    AssignmentFactory,
    EnrollmentFactory,
    GradeFactory,
    MembershipFactory,
    SchoolClassFactory,
)

# Bounded by work, not by the clock (a clock bound tests less on a loaded machine): 2 examples per operation in
# the fuzzing phase (positive and negative data); the clock bound per role is only a safety net.
EXAMPLES = os.environ.get("API_FUZZ_EXAMPLES", "2")
BUDGET = int(os.environ.get("API_FUZZ_SECONDS_PER_ROLE", "40"))
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _seed() -> dict[str, tuple[str, str]]:
    """Every role that has operations of its own: (login, password). The operations open to anyone are
    exercised in every run; a student's grades in the child's and the matrix's."""
    buyer = UserFactory(username="fuzz_buyer")
    paid_invoice(buyer)
    teacher = UserFactory(username="fuzz_teacher")
    membership = MembershipFactory(user=teacher, role="teacher")
    MembershipFactory(user=UserFactory(username="fuzz_admin"), school=membership.school, role="admin")
    school_class = SchoolClassFactory(school=membership.school, teacher=teacher)
    student = UserFactory(username="fuzz_student")
    MembershipFactory(user=student, school=membership.school)
    EnrollmentFactory(school_class=school_class, student=student)
    GradeFactory(assignment=AssignmentFactory(school_class=school_class), student=student, score=Decimal("12"))
    consented_child("fuzzkid", "fuzz.parent@example.org")
    return {
        "adult buyer": ("fuzz_buyer", PASSWORD),
        "teacher": ("fuzz_teacher", PASSWORD),
        "school administrator": ("fuzz_admin", PASSWORD),
        "child": ("fuzzkid", CHILD_PASSWORD),
    }


def _token(base: str, login: str, password: str) -> str:
    response = requests.post(
        f"{base}/_allauth/app/v1/auth/login", json={"username": login, "password": password}, timeout=30
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["meta"]["session_token"]
    return token


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_nothing(live_server: Any, settings: Any, tmp_path: Path) -> None:
    settings.API_EMAIL_RATE_PER_MINUTE = 10_000  # the fuzzer would otherwise meet our limits (a documented 429)
    settings.API_PASSWORD_RATE_PER_MINUTE = 10_000
    base = live_server.url
    (tmp_path / "schemathesis.toml").write_text((Path(__file__).parent / "schemathesis.toml").read_text())
    for role, (login, password) in _seed().items():
        headers = ["-H", f"X-Session-Token: {_token(base, login, password)}"]
        result = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{base}/api/openapi.json",
                "--checks",
                "all",
                "--max-examples",
                EXAMPLES,
                "--phases",
                "examples,fuzzing",
                "--seed",
                "20261130",
                "--max-time",
                str(BUDGET),
                "--workers",
                "1",
                "--generation-deterministic",
                "--exclude-operation-id",
                "deletion_schedule",  # it would close the role's account (its own test: tests/api/test_me.py)
                *headers,
            ],
            capture_output=True,
            text=True,
            timeout=BUDGET + 120,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1"},
        )
        assert result.returncode == 0, f"{role}:\n{result.stdout[-40000:]}\n{result.stderr[-2000:]}"
        summary = [line for line in result.stdout.splitlines() if "Tested" in line or "passed" in line]
        print(role, summary)
