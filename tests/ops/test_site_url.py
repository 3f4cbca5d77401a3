"""``make run`` derives SITE_URL from PORT, and every emailed link (ours and allauth's) starts with it."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.contrib.sites.models import Site
from django.core import mail
from django.core.management.sql import emit_post_migrate_signal
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.test_signup import SIGNUP
from tests.consent.helpers import pass_age_gate

ROOT = Path(__file__).resolve().parents[2]


def _devstack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("devstack", ROOT / "scripts" / "devstack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_run_derives_site_url_from_port_unless_site_url_is_set() -> None:
    devstack = _devstack()
    assert devstack.run_environment({"PORT": "9000"})["SITE_URL"] == "http://127.0.0.1:9000"
    assert devstack.run_environment({})["SITE_URL"] == "http://127.0.0.1:8000"
    given = {"PORT": "9000", "SITE_URL": "https://accounts.example.org"}
    assert devstack.run_environment(given)["SITE_URL"] == "https://accounts.example.org"


@pytest.fixture
def port_9000(settings: Any, db: Any) -> str:
    settings.SITE_URL = "http://127.0.0.1:9000"
    emit_post_migrate_signal(0, False, "default")  # what make run's migrate does at each start
    return settings.SITE_URL


def test_migrate_makes_the_site_row_follow_site_url(port_9000: str) -> None:
    assert Site.objects.get_current().domain == "127.0.0.1:9000"


def _links(body: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", body)


def test_allauth_verification_and_reset_emails_use_site_url_not_the_request_host(
    port_9000: str, django_capture_on_commit_callbacks: Any
) -> None:
    browser = Client(HTTP_HOST="localhost:8000")  # the request's host is not SITE_URL's
    pass_age_gate(browser, age=30, country="GB")
    with django_capture_on_commit_callbacks(execute=True):  # the outbox sends after commit
        browser.post(reverse("account_signup"), SIGNUP, HTTP_HOST="localhost:8000")
    verification = [link for link in _links(mail.outbox[-1].body) if "/accounts/confirm-email/" in link]
    assert verification
    assert all(link.startswith(port_9000 + "/") for link in verification)

    user = User.objects.get(email=SIGNUP["email"])
    assert user.pk
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        Client(HTTP_HOST="localhost:8000").post(reverse("account_reset_password"), {"email": SIGNUP["email"]})
    reset = [link for link in _links(mail.outbox[-1].body) if "/accounts/password/reset/key/" in link]
    assert reset
    assert all(link.startswith(port_9000 + "/") for link in reset)


# --- make run keeps the worker and beat alive -------------------------------------------------------------
def test_a_dead_worker_is_restarted_with_backoff_and_logged_while_the_others_keep_running() -> None:
    devstack = _devstack()
    said: list[str] = []
    commands = {
        "web": [sys.executable, "-c", "import time; time.sleep(60)"],
        "worker": [sys.executable, "-c", "raise SystemExit(3)"],
    }
    supervisor = devstack.Supervisor(
        commands, env={}, restart={"worker"}, backoff_start=0.05, backoff_max=0.2, say=said.append
    )
    supervisor.start()
    web = supervisor.processes["web"]
    try:
        deadline = time.monotonic() + 20
        while supervisor.restarts["worker"] < 3 and time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.01)
        assert supervisor.restarts["worker"] >= 3
        assert not supervisor.stopping
        assert web.poll() is None
        assert supervisor.processes["web"] is web
        exits = [line for line in said if line.startswith("worker exited with code 3")]
        delays = [float(re.search(r"in ([\d.]+) s$", line).group(1)) for line in exits]
        assert len(exits) >= 3
        assert any("restarting worker (restart 2)" == line for line in said)
        assert supervisor.backoff["worker"] == 0.2  # doubled up to the cap
        assert delays[:3] == [0.05, 0.1, 0.2]
    finally:
        supervisor.stop(timeout=5)
    assert web.poll() is not None


def test_the_web_servers_exit_stops_everything() -> None:
    devstack = _devstack()
    said: list[str] = []
    commands = {
        "web": [sys.executable, "-c", "raise SystemExit(2)"],
        "worker": [sys.executable, "-c", "import time; time.sleep(60)"],
    }
    supervisor = devstack.Supervisor(commands, env={}, restart={"worker"}, say=said.append)
    supervisor.start()
    try:
        supervisor.processes["web"].wait(timeout=10)
        supervisor.poll()
        assert supervisor.stopping
        assert supervisor.exit_code == 2
        assert said == ["web exited with code 2; stopping the others"]
    finally:
        supervisor.stop(timeout=5)
    assert supervisor.processes["worker"].poll() is not None
