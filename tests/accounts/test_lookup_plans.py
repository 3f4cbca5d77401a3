"""Case-insensitive lookups use indexes: the SQL each path really runs is planned with EXPLAIN while
sequential scans are disabled (``enable_seqscan = off``): a plan that still scans a table sequentially has no
index it could use for the lookup.

The paths: sign-in with the username and with the email address in another case (allauth's form, its
backend and Django's ModelBackend, through the real login POST), a parent's address in the portal (and a
second guardian's), a child's chosen login at sign-up. ``mindomo.lookups`` makes ``__iexact`` match the
``Lower()`` indexes; bench/bench_lookups.py measures the same paths at 300,000 users.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consent import services
from consent.models import AgeRule
from consent.portal import reads as portal
from tests.accounts.factories import PASSWORD, UserFactory
from tests.consent.factories import ConsentRecordFactory, GuardianFactory

TABLES = ("accounts_user", "account_emailaddress", "consent_consentrecord", "consent_guardian")


def _unindexed_scans(plan: dict[str, Any]) -> list[str]:
    """The scans of TABLES in this plan that no index condition drives: a sequential scan, or (with
    sequential scans disabled) a full index scan that filters every row."""
    found = []
    relation = plan.get("Relation Name")
    if relation in TABLES:
        kind = plan["Node Type"]
        driven = "Index Cond" in plan or (
            kind == "Bitmap Heap Scan"
            and all("Index Cond" in p for p in _walk(plan) if p["Node Type"] == "Bitmap Index Scan")
        )
        if not driven:
            found.append(f"{kind} on {relation}")
    for child in plan.get("Plans", []):
        found += _unindexed_scans(child)
    return found


def _walk(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(p for child in plan.get("Plans", []) for p in _walk(child))]


def _plans(queries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """{sql: plan} of every captured statement that reads one of TABLES, planned without sequential scans."""
    plans = {}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in queries:
            sql = query["sql"]
            if not sql.lstrip().upper().startswith("SELECT") or not any(f'"{t}"' in sql for t in TABLES):
                continue
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
            raw = cursor.fetchone()[0]
            plans[sql] = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return plans


def _assert_indexed(run: Callable[[], Any], *, must_read: str) -> None:
    with CaptureQueriesContext(connection) as captured:
        run()
    plans = _plans(captured.captured_queries)
    assert any(f'"{must_read}"' in sql for sql in plans), f"no query read {must_read}"
    for sql, plan in plans.items():
        assert not _unindexed_scans(plan), f"{_unindexed_scans(plan)}: {sql}"


@pytest.fixture
def ada(db: Any) -> Any:
    return UserFactory(username="Ada.Lovelace", email="ada@example.com")


@pytest.mark.parametrize("login", ["ADA.LOVELACE", "Ada@Example.COM"])
def test_sign_in_with_username_or_email_in_any_case_uses_indexes(ada: Any, login: str) -> None:
    client = Client()

    def sign_in() -> None:
        response = client.post(reverse("account_login"), {"login": login, "password": PASSWORD})
        assert response.status_code == 302
        assert "_auth_user_id" in client.session

    _assert_indexed(sign_in, must_read="accounts_user")


def test_the_parent_portal_finds_children_by_address_with_indexes(ada: Any) -> None:
    rule = AgeRule.objects.get(country="US", superseded_at__isnull=True)
    child, other = UserFactory(email=""), UserFactory(email="")
    record = ConsentRecordFactory(child=child, parent_email="Parent@Example.org", rule=rule)
    invited = ConsentRecordFactory(child=other, parent_email="someone@example.org", rule=rule)
    GuardianFactory(record=invited, email="PARENT@example.org")

    def find() -> None:
        found = set(portal.records_visible_to_parent(email="parent@EXAMPLE.org").values_list("pk", flat=True))
        assert found == {record.pk, invited.pk}

    _assert_indexed(find, must_read="consent_consentrecord")


def test_a_childs_chosen_login_is_checked_with_indexes(ada: Any) -> None:
    def check() -> None:
        assert services.login_is_taken("ADA@EXAMPLE.COM")
        assert services.login_is_taken("ada.LOVELACE")
        assert not services.login_is_taken("nobody.here")

    _assert_indexed(check, must_read="account_emailaddress")
