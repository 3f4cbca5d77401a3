"""The secret of an emailed link never reaches a log: a real gunicorn with the shipped configuration serves
the consent link page, a static file that page loads (with the page as Referer), the portal sign-in link and a
410, and none of its logs (access, error, stdout, stderr with Django's request logging) holds a key."""

from __future__ import annotations

import io
import json
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from consent import age_gate, services
from consent.portal import session as portal_session
from consent.reference_data import ensure_loaded
from mindomo.redaction import REDACTED, redact
from tests.consent.helpers import birth_date_for_age
from tests.ops.servers import Gunicorn, http_get


def _pending_request() -> services.SealedRequest:
    ensure_loaded()
    decision = age_gate.decide(birth_date=birth_date_for_age(10), country="US", today=timezone.now().date())
    return services.pending_signup_create(
        login="logged-child", password="purple-giraffe-runs-42", parent_email="parent@example.org", decision=decision
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_gunicorn_run_logs_no_consent_key_and_no_portal_token(tmp_path: Path) -> None:
    sealed = _pending_request()
    link = json.dumps({"e": "parent@example.org", "n": "n0nce"}).encode()
    token = portal_session._link_fernet().encrypt(link).decode()
    gone_key = secrets.token_urlsafe(32)
    server = Gunicorn(tmp_path).start()
    try:
        consent_path = f"/consent/parent/{sealed.public_id}/{sealed.key}/"
        status, headers, body = http_get(server.url + consent_path)
        assert status == 200
        assert b"logged-child" in body
        assert headers["Referrer-Policy"] == "strict-origin"
        # a browser that ignored the policy: the static file's request carries the page as Referer
        status, _, _ = http_get(server.url + "/static/css/site.css", headers={"Referer": server.url + consent_path})
        assert status == 200
        status, headers, _ = http_get(f"{server.url}/consent/parents/link/{token}/")
        assert status == 200
        assert headers["Referrer-Policy"] == "strict-origin"
        status, _, _ = http_get(f"{server.url}/consent/parent/unknownrequest/{gone_key}/")
        assert status == 410  # Django's request logger writes "Gone: <path>"
        status, _, _ = http_get(f"{server.url}/accounts/login/?next=/consent/parent/{sealed.public_id}/{sealed.key}/")
        assert status == 200
    finally:
        server.stop()
    access = server.access_log.read_text()
    logs = server.logs()
    for secret in (sealed.key, token, gone_key):
        assert secret not in logs
    # the requests were logged, with the secret part redacted
    assert f"GET /consent/parent/{sealed.public_id}/{REDACTED}/ HTTP/1.1" in access
    assert f'"{server.url}/consent/parent/{sealed.public_id}/{REDACTED}/"' in access  # the static file's Referer
    assert f"/consent/parents/link/{REDACTED}/" in access
    assert f"Gone: /consent/parent/unknownrequest/{REDACTED}/" in logs
    assert access.count(REDACTED) >= 5


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("GET /consent/parent/abc/KEY-1_x=/ HTTP/1.1", f"GET /consent/parent/abc/{REDACTED}/ HTTP/1.1"),
        ("Gone: /consent/parents/link/gAAAAB-x_y==/", f"Gone: /consent/parents/link/{REDACTED}/"),
        (
            "/accounts/login/?next=%2Fconsent%2Fparent%2Fabc%2FKEY%2F",
            f"/accounts/login/?next=%2Fconsent%2Fparent%2Fabc%2F{REDACTED}%2F",
        ),
        ("/accounts/confirm-email/MTI:1tX:abc/", f"/accounts/confirm-email/{REDACTED}/"),
        ("/accounts/password/reset/key/2a-c3s-abc/", f"/accounts/password/reset/key/{REDACTED}/"),
        ("/accounts/password/reset/key/2a-set-password/", "/accounts/password/reset/key/2a-set-password/"),
        ("/privacy/policy-consent/tok3n/", f"/privacy/policy-consent/{REDACTED}/"),
        ("/grading/invitations/tok3n/", f"/grading/invitations/{REDACTED}/"),
        ("/consent/parents/children/5/", "/consent/parents/children/5/"),
    ],
)
def test_one_redaction_function_hides_the_secret_segment_and_keeps_the_rest(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_djangos_runserver_and_request_loggers_redact_through_the_same_filter(caplog: Any) -> None:
    """``make run`` serves with runserver: its request line goes to "django.server"; warnings on 4xx to
    "django.request" (propagating to the root's console handler). Both handlers carry the filter."""
    server_logger = logging.getLogger("django.server")
    root_console = next(h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler)
    for logger, handler in (
        (server_logger, server_logger.handlers[0]),
        (logging.getLogger("django.request"), root_console),
    ):
        stream = io.StringIO()
        previous = handler.setStream(stream)
        try:
            logger.warning('"GET %s HTTP/1.1" 410 12', "/consent/parent/abc/SeCrEtKeY/")
        finally:
            handler.setStream(previous)
        assert "SeCrEtKeY" not in stream.getvalue()
        assert f"/consent/parent/abc/{REDACTED}/" in stream.getvalue()
