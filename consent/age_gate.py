"""The neutral age gate: from a birth date and a jurisdiction to a decision, and the decision's cookie.

The birth date is used for the computation and dropped; only the decision travels (signed cookie) or
is stored (``AgeDecision``, ``PendingSignup``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.http import HttpRequest, HttpResponseBase

from .constants import AGE_DECISION_COOKIE
from .models import AgeOutcome, AgeRule
from .reference_data import ensure_loaded

COOKIE_NAME = AGE_DECISION_COOKIE
COOKIE_SALT = "consent.age_gate.decision"
# The API's decision token (POST /api/v1/age-gate/): the same decision, signed with its own salt and bound to
# the client kind it was issued for. A mobile app (allauth's "app" client) sends it in this header; a browser
# client gets the cookie above instead, exactly like the web pages.
TOKEN_SALT = "consent.age_gate.api-token"
TOKEN_HEADER = "X-Age-Decision"
TOKEN_CLIENTS = ("app", "browser")


@dataclass(frozen=True)
class Decision:
    outcome: str  # AgeOutcome value
    rule_id: int
    country: str
    consent_month: datetime.date | None  # first day of the month the child reaches the age; None for adults

    @property
    def is_child(self) -> bool:
        return self.outcome == AgeOutcome.CHILD


def _current_candidates(country: str, subdivision: str) -> list[AgeRule]:
    return list(
        AgeRule.objects.filter(superseded_at__isnull=True).filter(
            Q(country=country, subdivision=subdivision) | Q(country=country, subdivision="") | Q(country="")
        )
    )


def rule_for(*, country: str, subdivision: str = "") -> AgeRule:
    """The current rule of a subdivision, else of its country, else the default row.

    The gate must always be able to decide: if the table lost its rows (a test database flushed after
    the data migration ran), the reference rows are loaded again before deciding.
    """
    candidates = _current_candidates(country, subdivision)
    if not candidates:
        ensure_loaded()
        candidates = _current_candidates(country, subdivision)

    def rank(rule: AgeRule) -> int:
        if rule.country and rule.subdivision:
            return 0
        return 1 if rule.country else 2

    candidates.sort(key=rank)
    if not candidates:
        raise ImproperlyConfigured("The age rules table has no default row (run the consent migrations).")
    return candidates[0]


def reaches_age_on(birth_date: datetime.date, age: int) -> datetime.date:
    """The day a person born on ``birth_date`` turns ``age``. Born on 29 February: 1 March in common years."""
    try:
        return birth_date.replace(year=birth_date.year + age)
    except ValueError:  # 29 February in a common year
        return datetime.date(birth_date.year + age, 3, 1)


def decide(*, birth_date: datetime.date, country: str, subdivision: str = "", today: datetime.date) -> Decision:
    rule = rule_for(country=country, subdivision=subdivision)
    reaches = reaches_age_on(birth_date, rule.age)
    if today >= reaches:
        return Decision(outcome=AgeOutcome.ADULT, rule_id=rule.pk, country=country, consent_month=None)
    return Decision(outcome=AgeOutcome.CHILD, rule_id=rule.pk, country=country, consent_month=reaches.replace(day=1))


# --- the cookie that binds a decision to the browser ------------------------------------------------
def cookie_max_age() -> int:
    return int(settings.CONSENT_DECISION_COOKIE_AGE)


def _load(raw: str, *, salt: str, client: str | None = None) -> Decision | None:
    try:
        data: Any = signing.loads(raw, salt=salt, max_age=cookie_max_age())
        if client is not None and data["k"] != client:
            return None
        month = datetime.date.fromisoformat(data["m"]) if data["m"] else None
        decision = Decision(outcome=data["o"], rule_id=int(data["r"]), country=str(data["c"]), consent_month=month)
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    if decision.outcome not in AgeOutcome.values:
        return None
    return decision


def _payload(decision: Decision) -> dict[str, Any]:
    return {
        "o": decision.outcome,
        "r": decision.rule_id,
        "c": decision.country,
        "m": decision.consent_month.isoformat() if decision.consent_month else "",
    }


def headless_client(request: HttpRequest) -> str | None:
    """The allauth headless client ("app" or "browser") a request is served for, or None for the pages."""
    headless = getattr(getattr(request, "allauth", None), "headless", None)
    client = getattr(headless, "client", None)
    return str(getattr(client, "value", client)) if client is not None else None


def read_decision(request: HttpRequest) -> Decision | None:
    """The client's earlier decision if genuine and recent; None otherwise.

    A browser (the pages, and allauth's "browser" client) holds it in the signed cookie; allauth's "app" client
    sends the API's decision token in the ``X-Age-Decision`` header, and only a token issued for the app client
    counts there.
    """
    if headless_client(request) == "app":
        return read_token(request.headers.get(TOKEN_HEADER, ""), client="app")
    raw = request.COOKIES.get(COOKIE_NAME)
    if not raw:
        return None
    return _load(raw, salt=COOKIE_SALT)


def issue_token(decision: Decision, *, client: str) -> str:
    """The API's decision token: signed, bound to the client kind, valid CONSENT_DECISION_COOKIE_AGE (>= 24 h)."""
    if client not in TOKEN_CLIENTS:
        raise ValueError(client)
    return signing.dumps({**_payload(decision), "k": client}, salt=TOKEN_SALT)


def read_token(token: str, *, client: str) -> Decision | None:
    """The decision a token carries if it is genuine, recent and was issued for ``client``; None otherwise."""
    if not token or len(token) > 1000:
        return None
    return _load(token, salt=TOKEN_SALT, client=client)


def write_decision(response: HttpResponseBase, decision: Decision) -> None:
    response.set_cookie(
        COOKIE_NAME,
        signing.dumps(_payload(decision), salt=COOKIE_SALT),
        max_age=cookie_max_age(),
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
