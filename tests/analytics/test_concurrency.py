"""Page views arriving at the same moment are all counted (one atomic upsert per view, no lost update)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from analytics.models import PageViewCount
from analytics.services import page_view_record

THREADS = 4
VIEWS_EACH = 25


@pytest.mark.django_db(transaction=True)
def test_simultaneous_views_of_a_new_page_are_all_counted(transactional_db: Any) -> None:
    day = timezone.now().date()
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def viewer() -> None:
        try:
            start.wait()
            for _ in range(VIEWS_EACH):
                page_view_record(path="/privacy/", day=day)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=viewer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert PageViewCount.objects.get(path="/privacy/", day=day).count == THREADS * VIEWS_EACH
