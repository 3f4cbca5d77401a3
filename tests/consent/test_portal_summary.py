"""The parent's page reads each provider's summary, not its export: the summary must say what the export holds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from consent import age_gate, services
from consent.models import ConsentRecord
from consent.portal import reads
from consent.reference_data import ensure_loaded
from mindomo.privacy import registry
from tests.consent.helpers import birth_date_for_age
from tests.consent.portal_helpers import CHILD_PASSWORD

pytestmark = pytest.mark.django_db


def _size(value: Any) -> int:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, bool) or value is None:
        return int(bool(value))
    if isinstance(value, int):
        return value
    return int(bool(value))


def test_a_reminded_then_approved_childs_summary_counts_what_the_export_holds(
    django_capture_on_commit_callbacks: Any,
) -> None:
    ensure_loaded()
    now = timezone.now()
    decision = age_gate.decide(birth_date=birth_date_for_age(10), country="US", today=now.date())
    sealed = services.pending_signup_create(
        login="summary.kid", password=CHILD_PASSWORD, parent_email="summary.mum@example.org", decision=decision
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert services.pending_signups_remind(now=now + timedelta(days=4)) == 1  # one batch entry names the child
    child = services.pending_signup_approve(public_id=sealed.public_id, key=sealed.key, guardian_confirmed=True)

    exported = registry.export_user(child)
    summarised = registry.summarise_user(child)

    events = exported["consent"]["consent_ledger"]
    assert "reminded" in [e["event"] for e in events]
    assert summarised["consent"]["consent_ledger"] == len(events)
    record = ConsentRecord.objects.get(child=child)
    page = reads.child_page(record=record, email="summary.mum@example.org")
    assert [line.kind for line in page["ledger"]] == [e["event"] for e in events]  # the page's history too
    for provider in registry.providers():
        for key, value in summarised[provider.name].items():
            if key in exported[provider.name]:
                assert _size(value) == _size(exported[provider.name][key]), (provider.name, key)
