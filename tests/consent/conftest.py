from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def age_rules(request: Any) -> None:
    """The age rules come from a data migration; transactional tests flush them, so reload when missing."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        return
    transactional = (marker is not None and marker.kwargs.get("transaction")) or names & {
        "transactional_db",
        "live_server",
    }
    request.getfixturevalue("transactional_db" if transactional else "db")
    from consent.reference_data import ensure_loaded

    ensure_loaded()
