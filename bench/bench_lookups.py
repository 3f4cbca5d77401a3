"""Benchmark: case-insensitive lookups at the size of a district, against a primary-key fetch.

BENCH_LOOKUP_USERS accounts (default 300,000; inserted with INSERT ... SELECT generate_series, each with a
verified email address and a parent's consent record), then BENCH_LOOKUPS lookups per sample (default 200)
of each path, every login typed in another case than stored: the username at sign-in (Django's
``get_by_natural_key``, what ModelBackend and allauth's username login run), the email address at sign-in
(allauth's ``filter_users_by_email``), a parent's address in the portal (``visible_records``: the portal's
pages' read of ``records_visible_to_parent``, compiled once per process and prepared), a
child's chosen login at sign-up (``login_is_taken``). BENCH_KEEP_DATA=1 keeps the rows for the next run
(deleting 300,000 users takes minutes); a run finding them reuses them. The baseline of each is the same
number of queries fetching users by primary key: an index scan costs about that, whatever the table's
size; a sequential scan costs the whole table. Goal (issue 15): index scans, i.e. within 2x the primary-key fetches.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from allauth.account.internal.userkit import filter_users_by_email  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import User  # noqa: E402
from consent import services  # noqa: E402
from consent.models import AgeRule  # noqa: E402
from consent.portal import reads as portal  # noqa: E402

USERS = env_int("BENCH_LOOKUP_USERS", 300_000)
LOOKUPS = env_int("BENCH_LOOKUPS", 200)
PREFIX = "bench-lk-"
KEEP = os.environ.get("BENCH_KEEP_DATA") == "1"  # keep the rows for the next run (deleting them takes minutes)


def cleanup() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM consent_consentrecord WHERE child_id IN (SELECT id FROM accounts_user WHERE username LIKE %s)",
            [f"{PREFIX}%"],
        )
        cursor.execute(
            "DELETE FROM account_emailaddress WHERE user_id IN (SELECT id FROM accounts_user WHERE username LIKE %s)",
            [f"{PREFIX}%"],
        )
        cursor.execute("DELETE FROM accounts_user WHERE username LIKE %s", [f"{PREFIX}%"])


def build() -> None:
    rule = AgeRule.objects.get(country="US", superseded_at__isnull=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
            "is_active, date_joined, country, product_updates, language) SELECT '!', false, %s || g, 'Zoë', 'Dupré', "
            "%s || g || '@example.com', false, true, now(), 'US', false, '' FROM generate_series(1, %s) g",
            [PREFIX, PREFIX, USERS],
        )
        cursor.execute(
            'INSERT INTO account_emailaddress (email, verified, "primary", user_id) '
            "SELECT email, true, true, id FROM accounts_user WHERE username LIKE %s",
            [f"{PREFIX}%"],
        )
        cursor.execute(
            "INSERT INTO consent_consentrecord (method, parent_email, policy_version, granted_at, child_id, rule_id, "
            "parent_language) SELECT 'email_plus', 'Parent.' || id || '@Example.org', '2018-05-24', now(), id, %s, '' "
            "FROM accounts_user WHERE username LIKE %s",
            [rule.pk, f"{PREFIX}%"],
        )


def vacuum() -> None:
    with connection.cursor() as cursor:  # an earlier run's deleted rows would slow the planner down
        for table in ("accounts_user", "account_emailaddress", "consent_consentrecord", "consent_guardian"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def jobs() -> Iterator[Job]:
    if User.objects.filter(username__startswith=PREFIX).count() != USERS:
        cleanup()
        print(f"  inserting {USERS:,} users with addresses and consent records ...", file=sys.stderr, flush=True)
        build()
    vacuum()
    try:
        picks = random.sample(range(1, USERS + 1), LOOKUPS)  # the users' numbers in their names
        pks = list(User.objects.filter(username__in=[f"{PREFIX}{n}" for n in picks]).values_list("pk", flat=True))
        paths: dict[str, Callable[[int], Any]] = {
            "username at sign-in": lambda n: User.objects.get_by_natural_key(f"{PREFIX}{n}".upper()),
            "email at sign-in (allauth)": lambda n: filter_users_by_email(
                f"{PREFIX}{n}@Example.COM", prefer_verified=True, for_login=True
            ),
            "parent's address in the portal": lambda n: portal.visible_records(email=f"parent.{n}@example.ORG"),
            "child's login at sign-up": lambda n: services.login_is_taken(f"{PREFIX}{n}".upper()),
        }
        for label, lookup in paths.items():
            with CaptureQueriesContext(connection) as captured:
                lookup(picks[0])
            per_lookup = len(captured.captured_queries)

            def project(lookup: Callable[[int], Any] = lookup) -> None:
                for n in picks:
                    lookup(n)

            def baseline(per_lookup: int = per_lookup) -> None:
                for pk in pks:
                    for _ in range(per_lookup):
                        User.objects.filter(pk=pk).first()

            yield Job(
                f"{label}, {LOOKUPS} lookups among {USERS:,} users",
                project,
                baseline,
                goal=2.0,
                baseline_label=f"{per_lookup} pk fetch(es) each",
            )
    finally:
        if not KEEP:
            cleanup()


if __name__ == "__main__":
    main(jobs)
