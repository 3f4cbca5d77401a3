"""Where higher apps take part in the outbox's work (see mindomo.hooks): they register in their ``ready()``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mindomo.hooks import Hook

# The server accepted a delivery (called with the delivery and when it was accepted, in the transaction that marks
# it sent, each in its own savepoint: a failing hook is logged and never makes the email go out twice). Consent
# records when the email-plus follow-up went out, as evidence kept after the sent row is purged.
delivery_sent: Hook[Callable[[Any, datetime], None]] = Hook("outbox.delivery_sent")
