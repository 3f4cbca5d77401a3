"""Request schemas refuse unknown fields; every string has a length limit (control characters are refused for
every request by mindomo.middleware.RejectInvalidTextMiddleware)."""

from __future__ import annotations

from ninja import Schema
from pydantic import ConfigDict


class Input(Schema):
    model_config = ConfigDict(extra="forbid")


class Done(Schema):
    detail: str
