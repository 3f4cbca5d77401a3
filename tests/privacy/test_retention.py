from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from accounts.models import User
from mindomo.privacy import registry
from privacy import services
from privacy.models import AccessLog
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def _unverified(days_ago: int) -> User:
    user = UserFactory(verified_email=False, date_joined=timezone.now() - timedelta(days=days_ago))
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    return user


def _access(days_ago: int, subject: User) -> AccessLog:
    entry = AccessLog.objects.create(
        staff=None,
        staff_label="s",
        action="view",
        model="accounts.User",
        object_id=str(subject.pk),
        subject_id=subject.pk,
    )
    AccessLog.objects.filter(pk=entry.pk).update(at=timezone.now() - timedelta(days=days_ago))
    return entry


def test_a_dry_run_lists_exactly_what_the_real_run_deletes(settings: Any) -> None:
    settings.UNVERIFIED_ACCOUNT_TTL_DAYS = 7
    settings.ACCESS_LOG_RETENTION_DAYS = 730
    stale = [_unverified(8), _unverified(30)]
    fresh = _unverified(2)
    kept_member = UserFactory(date_joined=timezone.now() - timedelta(days=400))
    old_logs = [_access(731, kept_member), _access(2000, kept_member)]
    new_log = _access(10, kept_member)
    now = timezone.now()

    dry = {o.rule.name: set(o.pks) for o in services.retention_apply(now=now, dry_run=True)}
    assert dry["accounts.unverified_signups"] == {u.pk for u in stale}
    assert dry["privacy.access_log"] == {e.pk for e in old_logs}
    assert User.objects.filter(pk__in=[u.pk for u in stale]).count() == 2  # the dry run deleted nothing

    users_before = set(User.objects.values_list("pk", flat=True))
    logs_before = set(AccessLog.objects.values_list("pk", flat=True))
    real = {o.rule.name: o.count for o in services.retention_apply(now=now, batch_size=1)}

    assert users_before - set(User.objects.values_list("pk", flat=True)) == dry["accounts.unverified_signups"]
    assert logs_before - set(AccessLog.objects.values_list("pk", flat=True)) == dry["privacy.access_log"]
    assert real["accounts.unverified_signups"] == 2
    assert real["privacy.access_log"] == 2
    assert User.objects.filter(pk__in=[fresh.pk, kept_member.pk]).count() == 2
    assert AccessLog.objects.filter(pk=new_log.pk).exists()
    assert all(o.count == 0 for o in services.retention_apply(now=now))  # idempotent


def test_the_retention_command_dry_run_prints_per_rule_and_deletes_nothing(settings: Any) -> None:
    settings.UNVERIFIED_ACCOUNT_TTL_DAYS = 7
    stale = _unverified(9)
    out = StringIO()
    call_command("retention", "--dry-run", stdout=out)

    text = out.getvalue()
    assert "accounts.unverified_signups: would delete 1" in text
    assert "privacy.access_log: would delete 0" in text
    assert User.objects.filter(pk=stale.pk).exists()

    call_command("retention", stdout=StringIO())
    assert not User.objects.filter(pk=stale.pk).exists()


def test_the_beat_schedule_runs_the_retention_engine(settings: Any) -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "privacy.tasks.retention_apply_task" in tasks


def test_the_public_retention_page_is_generated_from_the_declarations(client: Client) -> None:
    html = client.get(reverse("privacy:retention")).content.decode()
    assert html.count('class="card retention-section"') == len(registry.providers())
    for _provider, declaration in registry.declarations():
        assert escape(declaration.model) in html
    assert registry.retention_rules()  # the loop below checks something
    for _provider, rule in registry.retention_rules():
        assert escape(str(rule.description)) in html
