"""Benchmark: an adult's sign-up POST through HTTP (gunicorn, production settings, one sync worker) against as
many Argon2 password hashes made with the project's own hasher on the same cores (issue 15: sign-up POSTs per
second at least 0.8x Argon2 hashes per second, i.e. a time ratio of at most 1.25).

A sign-up hashes the password once (Argon2, the first of ``PASSWORD_HASHERS``), so the hash is the floor and
everything else the POST does (the form and the password validators, the gate's decision, the user, the email
address, the consent to the policy, the confirmation email written to the outbox and its send task published)
is what the ratio shows above it.

Each sample is BENCH_SIGNUPS sequential POSTs of the sign-up form (default 10), each by a fresh visitor who has
passed the age gate as an adult: before the sample, untimed, every visitor gets its CSRF cookie and its gate
decision (a GET and a POST of the gate) and allauth's sign-up rate limit for the client's address (20 a minute)
is cleared, so the timed POSTs are sign-ups, not refusals. The baseline is BENCH_SIGNUPS calls of
``make_password`` in this process. The accounts made are deleted at the end.
"""

from __future__ import annotations

import http.client
import http.cookies
import itertools
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PAIRS, Job, env_int, main, setup_django

setup_django()

from allauth.core import ratelimit  # noqa: E402
from django.contrib.auth.hashers import get_hasher, make_password  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.server import gunicorn  # noqa: E402
from consent import age_gate  # noqa: E402
from consent.reference_data import ensure_loaded  # noqa: E402

SIGNUPS = env_int("BENCH_SIGNUPS", 10)
DOMAIN = "bench-signup.example.org"
PASSWORD = "analytical-engine-1843"
_numbers = itertools.count(1)


def _request(port: int, method: str, path: str, *, cookies: dict[str, str], data: dict[str, str] | None = None) -> int:
    """One request as a browser would send it (the cookies kept so far; a POST with its CSRF token); the cookies the
    answer sets are kept. Returns the status."""
    headers = {"Host": "127.0.0.1"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
    body = None
    if data is not None:
        body = urllib.parse.urlencode(data)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["X-CSRFToken"] = cookies["csrftoken"]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    for header in response.msg.get_all("Set-Cookie") or []:
        for name, morsel in http.cookies.SimpleCookie(header).items():
            cookies[name] = morsel.value
    assert response.status in (200, 302), (method, path, response.status, content[:300])
    return response.status


def _adult_visitor(port: int) -> dict[str, str]:
    """A fresh visitor's cookies after the age gate decided "adult" (untimed)."""
    cookies: dict[str, str] = {}
    gate = reverse("consent:age_gate")
    _request(port, "GET", gate, cookies=cookies)
    born = timezone.localdate().replace(year=timezone.localdate().year - 30, day=1)
    decided = {"day": str(born.day), "month": str(born.month), "year": str(born.year), "country": "DE"}
    assert _request(port, "POST", gate, cookies=cookies, data={**decided, "subdivision": ""}) == 302
    assert age_gate.COOKIE_NAME in cookies, cookies
    return cookies


def _sign_up(port: int, cookies: dict[str, str]) -> None:
    number = next(_numbers)
    form = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": f"ada.{number}@{DOMAIN}",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "accept_policy": "on",
    }
    assert _request(port, "POST", reverse("account_signup"), cookies=cookies, data=form) == 302


def cleanup() -> None:
    User.objects.filter(email__endswith=f"@{DOMAIN}").delete()


def jobs() -> Iterator[Job]:
    ensure_loaded()
    cleanup()
    assert get_hasher().algorithm == "argon2", "the benchmark compares against the project's Argon2 hasher"
    visitors: list[dict[str, str]] = []
    try:
        with gunicorn() as port:

            def prepare() -> None:
                ratelimit.clear(RequestFactory().post("/", REMOTE_ADDR="127.0.0.1"), action="signup")
                visitors[:] = [_adult_visitor(port) for _ in range(SIGNUPS)]

            def sign_ups() -> None:
                for cookies in visitors:
                    _sign_up(port, cookies)

            def hashes() -> None:
                for _ in range(SIGNUPS):
                    make_password(PASSWORD)

            yield Job(
                f"adult sign-up POSTs, {SIGNUPS} in a row",
                sign_ups,
                hashes,
                goal=1.25,
                prepare_project=prepare,
                baseline_label="Argon2 hashes (make_password)",
                note="goal: sign-ups/s >= 0.8x hashes/s",
            )
            made = User.objects.filter(email__endswith=f"@{DOMAIN}").count()
            assert made == SIGNUPS * PAIRS, f"{made} accounts made by {PAIRS} samples of {SIGNUPS} sign-ups"
    finally:
        cleanup()


if __name__ == "__main__":
    main(jobs)
