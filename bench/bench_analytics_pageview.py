"""Benchmark: one counted page view through the whole stack, against the bare upsert, and the policy's cost.

Page view: a POST to /cookies/pageview/ through Django's full middleware stack (sessions, CSRF, the
security-headers middleware, the audience check, the upsert), against the bare ``INSERT ... ON CONFLICT``
upsert of the same row. Policy: building the Content-Security-Policy header, against an empty call.
BENCH_VIEWS sets the number of page views (default 2,000). Run against a migrated database (make bench, or
DATABASE_URL=... python bench/bench_analytics_pageview.py). Prints the rate of each and the ratio.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mindomo.settings.base")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from analytics.cookies import CHOICE_COOKIE  # noqa: E402
from analytics.middleware import build_policy  # noqa: E402
from analytics.models import PageViewCount  # noqa: E402

VIEWS = int(os.environ.get("BENCH_VIEWS", "2000"))
PATH = "/bench-only-page/"


def main() -> None:
    day = timezone.now().date()
    client = Client(SERVER_NAME="localhost")
    client.cookies[CHOICE_COOKIE] = "analytics"
    table = connection.ops.quote_name(PageViewCount._meta.db_table)
    PageViewCount.objects.filter(path__in=["/privacy/", PATH]).filter(day=day).delete()
    try:
        started = time.perf_counter()
        for _ in range(VIEWS):
            response = client.post("/cookies/pageview/", {"path": "/privacy/"})
            assert response.status_code == 204, response.content
        full = time.perf_counter() - started

        started = time.perf_counter()
        for _ in range(VIEWS):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (path, day, count) VALUES (%s, %s, 1) "
                    f"ON CONFLICT (path, day) DO UPDATE SET count = {table}.count + 1",
                    [PATH, day],
                )
        bare = time.perf_counter() - started
        counted = PageViewCount.objects.get(path="/privacy/", day=day).count
        assert counted == VIEWS, counted
    finally:
        PageViewCount.objects.filter(path__in=["/privacy/", PATH], day=day).delete()

    started = time.perf_counter()
    for _ in range(VIEWS):
        build_policy(url_name="home")
    policy = time.perf_counter() - started

    print(f"page views through the full stack: {VIEWS / full:,.0f}/s ({full / VIEWS * 1000:.2f} ms each)")
    print(f"bare upsert of the same row (baseline): {VIEWS / bare:,.0f}/s ({bare / VIEWS * 1000:.2f} ms each)")
    print(f"ratio full stack / bare upsert: {full / bare:.1f}x")
    print(f"building the Content-Security-Policy header: {policy / VIEWS * 1e6:.1f} µs per response")


if __name__ == "__main__":
    main()
