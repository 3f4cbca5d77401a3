"""Bulk jobs (expiry, retention, due erasures, reminders) stay shorter than the task time limit.

Each is a series of short committed batches. When one runs into ``CELERY_TASK_SOFT_TIME_LIMIT``, the batch in
progress rolls back (its transaction) and the same task is queued again to carry on from the committed ones, so
no task outlives the hard limit or the broker's visibility timeout, and nothing waits for the next beat tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded

logger = logging.getLogger(__name__)

T = TypeVar("T")


def run_in_slices(task: Any, job: Callable[[], T], *, interrupted: T) -> T:
    """Run ``job`` inside the bound ``task``; on the soft time limit, queue the task again and return
    ``interrupted``."""
    try:
        return job()
    except SoftTimeLimitExceeded:
        logger.warning("%s reached its time limit; queued again to carry on", task.name)
        task.apply_async(args=task.request.args, kwargs=task.request.kwargs, countdown=1)
        return interrupted
