"""A test-only integration with a provider that is not integral (the tests' "Tutor AI Ltd"), written as a real one
must be: declared in consent.reference_data.INTEGRATIONS (the tests add it), and through the disclosure gate
before a byte leaves, then over HTTP to the provider (a local server in the tests)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from consent import services

PROVIDER = "Tutor AI Ltd"


def progress_send(*, child: Any, url: str, report: dict[str, Any]) -> None:
    """Send the child's progress to the tutoring service, so that it suggests exercises."""
    services.disclosure_authorize(third_party=PROVIDER, subject=child, purpose="suggest exercises")
    request = urllib.request.Request(
        url, data=json.dumps(report).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()
