"""Secrets that travel in URLs never reach a log: one redaction function for every log we write.

A few links carry their secret in the path: the parent's consent link (``/consent/parent/<id>/<key>/``), the
parent portal's sign-in link (``/consent/parents/link/<token>/``) and, by the same rule, allauth's email
verification and password-reset keys, the policy re-consent link and a teacher's invitation. ``redact``
replaces the secret part with ``[redacted]`` wherever it appears in a log line: the request line, the
``Referer`` of the static files such a page loads, a ``next=`` parameter (also percent-encoded), and
Django's "Not Found"/"Gone" warnings. It is used by gunicorn's access and error logs
(``mindomo.gunicorn_logging``, configured in ``mindomo/gunicorn.conf.py``) and by Django's logging
(``RedactSecretsFilter`` on every handler in ``LOGGING``).

Pure Python on purpose (no Django import): gunicorn's master process loads it before Django is set up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

REDACTED = "[redacted]"

_SEP = r"(?:/|%2[Ff])"  # a slash, also percent-encoded in a query string
_SECRET = r"(?:(?!%2[Ff])[^/\s?#&\"'])+"  # one path segment

# (the path up to the secret, kept) + the secret segment, replaced
_SECRET_PATHS = re.compile(
    "("
    + "|".join(
        [
            rf"consent{_SEP}parent{_SEP}{_SECRET}{_SEP}",  # the parent's consent link: id kept, key redacted
            rf"consent{_SEP}parents{_SEP}link{_SEP}",  # the parent portal's sign-in link
            rf"accounts{_SEP}confirm-email{_SEP}",  # allauth's email verification key
            rf"accounts{_SEP}password{_SEP}reset{_SEP}key{_SEP}",  # allauth's password-reset key
            rf"privacy{_SEP}policy-consent{_SEP}",  # a policy change's re-consent link
            rf"grading{_SEP}invitations{_SEP}",  # a teacher's invitation
            rf"grading{_SEP}join{_SEP}answer{_SEP}",  # a parent's answer to a child's request to join a class
        ]
    )
    + ")"
    + f"({_SECRET})"
)
# allauth's own key-free page after a reset link was opened: nothing secret to hide
_KEEP = {"done", "reset-password-from-key-done"}


def _replace(match: re.Match[str]) -> str:
    secret = match.group(2)
    if secret in _KEEP or secret.endswith("-set-password"):
        return match.group(0)
    return match.group(1) + REDACTED


def redact(text: str) -> str:
    """``text`` with the secret of every secret-bearing link in it replaced by ``[redacted]``."""
    if "/" not in text and "%2" not in text:
        return text
    return _SECRET_PATHS.sub(_replace, text)


class RedactSecretsFilter(logging.Filter):
    """A logging filter that redacts the formatted message (and a traceback's text) of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if getattr(record, "request", None) is not None:
            record.request = None  # Django's request logger attaches the request (its path and Referer)
        return True


def referrer_origin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """The page's own URL (which may carry a secret) is never sent as ``Referer`` by anything it loads or links.

    ``strict-origin`` rather than ``no-referrer``: both keep the path (and so the key) out of every ``Referer``,
    but under ``no-referrer`` browsers send ``Origin: null`` with the page's own form POST (Fetch standard,
    "serializing a request origin"), which Django's CSRF check rightly refuses, so the parent could not approve.
    """

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        response = view(*args, **kwargs)
        response.headers["Referrer-Policy"] = "strict-origin"
        return response

    return wrapped
