"""Deployment check, demo data and the purge of sign-ups never verified."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core.management import call_command
from django.utils import timezone

from accounts import services
from accounts.models import User
from tests.accounts.factories import UserFactory

BASE_DIR = Path(__file__).resolve().parents[2]

# The production values README documents (section "Production settings").
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "mindomo.settings.base",
    "DJANGO_SECRET_KEY": "k7$Qm2!vR9#xL4@pW8^zT1&nB6*cY3%hJ5-dF0+gS2=aE7~uI9",
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "accounts.example.org",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_SESSION_COOKIE_SECURE": "true",
    "DJANGO_CSRF_COOKIE_SECURE": "true",
}


def test_check_deploy_reports_nothing_with_the_documented_production_values() -> None:
    readme = (BASE_DIR / "README.md").read_text()
    for name, value in PRODUCTION_ENV.items():
        if name not in ("DJANGO_SETTINGS_MODULE", "DJANGO_SECRET_KEY"):
            assert f"{name}={value}" in readme, f"README does not document {name}={value}"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"} | PRODUCTION_ENV
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_every_setting_read_from_the_environment_is_in_env_example() -> None:
    import re

    example = (BASE_DIR / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, flags=re.MULTILINE))
    read: set[str] = set()
    for path in (BASE_DIR / "mindomo" / "settings").glob("*.py"):
        source = path.read_text()
        read |= set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))
        for prefix in re.findall(r'_social_app\(\s*"([A-Z]+)"', source):
            read |= {f"{prefix}_CLIENT_ID", f"{prefix}_CLIENT_SECRET"}
    assert {"DATABASE_URL", "REDIS_URL", "GOOGLE_CLIENT_ID", "YAHOO_CLIENT_SECRET"} <= read
    missing = sorted(name for name in read if name not in documented)
    assert missing == []


@pytest.mark.django_db
def test_demo_data_is_idempotent(capsys: Any) -> None:
    call_command("demo_data")
    first = sorted(User.objects.values_list("username", "email", "first_name", "is_superuser"))
    call_command("demo_data")
    second = sorted(User.objects.values_list("username", "email", "first_name", "is_superuser"))

    assert first == second
    assert len(first) >= 2
    output = capsys.readouterr().out
    assert "ada@example.com" in output
    assert "admin" in output
    assert User.objects.get(username="ada").check_password("demo-pass-2026")


@pytest.mark.django_db
def test_sign_ups_never_verified_are_purged_after_the_ttl(settings: Any) -> None:
    settings.UNVERIFIED_ACCOUNT_TTL_DAYS = 7
    old = timezone.now() - timedelta(days=8)
    stale = UserFactory(verified_email=False, date_joined=old)
    EmailAddress.objects.create(user=stale, email=stale.email, verified=False, primary=True)
    recent = UserFactory(verified_email=False)
    EmailAddress.objects.create(user=recent, email=recent.email, verified=False, primary=True)
    verified = UserFactory(date_joined=old)
    social = UserFactory(verified_email=False, date_joined=old)
    EmailAddress.objects.create(user=social, email=social.email, verified=False, primary=True)
    SocialAccount.objects.create(user=social, provider="google", uid="s-1")
    no_email = UserFactory(email="", date_joined=old)  # e.g. a school student: never purged here

    assert services.unverified_accounts_purge(batch_size=1) == 1
    assert services.unverified_accounts_purge() == 0  # idempotent

    remaining = set(User.objects.values_list("pk", flat=True))
    assert stale.pk not in remaining
    assert {recent.pk, verified.pk, social.pk, no_email.pk} <= remaining
    assert not EmailAddress.objects.filter(email=stale.email).exists()
