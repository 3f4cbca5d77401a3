from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def age_rules(request: Any) -> None:
    """The age rules come from a data migration; transactional tests flush them, so reload when missing."""
    if (
        "db" in request.fixturenames
        or "transactional_db" in request.fixturenames
        or request.node.get_closest_marker("django_db")
    ):
        request.getfixturevalue("db" if "transactional_db" not in request.fixturenames else "transactional_db")
        from consent.reference_data import ensure_loaded

        ensure_loaded()
