"""Benchmark: one counted page view through the whole stack, against the bare upsert of the same row.

Page view: a POST to /cookies/pageview/ through Django's full middleware stack (sessions, CSRF, the
security-headers middleware, the audience check, the upsert), against the bare ``INSERT ... ON CONFLICT``
upsert of a row of the same table. BENCH_VIEWS sets the page views per sample (default 1,000).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Job, env_int, main, setup_django

setup_django()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from analytics.cookies import CHOICE_COOKIE  # noqa: E402
from analytics.models import PageViewCount  # noqa: E402

VIEWS = env_int("BENCH_VIEWS", 1000)
PATH = "/bench-only-page/"


def jobs() -> Iterator[Job]:
    day = timezone.now().date()
    client = Client(SERVER_NAME="localhost")
    client.cookies[CHOICE_COOKIE] = "analytics"
    table = connection.ops.quote_name(PageViewCount._meta.db_table)
    PageViewCount.objects.filter(path__in=["/privacy/", PATH], day=day).delete()

    def full() -> None:
        for _ in range(VIEWS):
            response = client.post("/cookies/pageview/", {"path": "/privacy/"})
            assert response.status_code == 204, response.content

    def bare() -> None:
        for _ in range(VIEWS):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (path, day, count) VALUES (%s, %s, 1) "
                    f"ON CONFLICT (path, day) DO UPDATE SET count = {table}.count + 1",
                    [PATH, day],
                )

    try:
        job = Job(f"page view through the full stack, {VIEWS:,} POSTs", full, bare, baseline_label="bare upsert")
        yield job
        assert PageViewCount.objects.get(path="/privacy/", day=day).count == VIEWS * job.pairs
    finally:
        PageViewCount.objects.filter(path__in=["/privacy/", PATH], day=day).delete()


if __name__ == "__main__":
    main(jobs)
