"""A test client whose requests commit like production's: each request's on_commit callbacks run when it ends.

Non-transactional tests run inside one transaction that never commits, so work queued with
``transaction.on_commit`` (the outbox publishing an email's task) would never run; in production every
request commits. Only the callbacks of the request itself run, at its end, as a real commit would.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from django.test import Client


class CommittingClient(Client):
    def __init__(self, capture: Callable[..., AbstractContextManager[Any]], **defaults: Any) -> None:
        super().__init__(**defaults)
        self._capture = capture

    def request(self, **request: Any) -> Any:
        with self._capture(execute=True):
            return super().request(**request)
