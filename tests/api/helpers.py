"""Calling the API the way a mobile app (allauth's "app" client) does: JSON in, JSON out, tokens in headers."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.test import Client
from django.utils import timezone

from consent.reference_data import ensure_loaded
from tests.accounts.factories import PASSWORD


def birth_date(age: int) -> str:
    today = timezone.localdate() - datetime.timedelta(days=30)
    try:
        return today.replace(year=today.year - age).isoformat()
    except ValueError:
        return today.replace(year=today.year - age, day=28).isoformat()


def call(client: Client, method: str, path: str, body: Any = None, **headers: str) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method.lower())(path, **kwargs)


def age_token(client: Client, *, age: int, country: str = "GB", client_kind: str = "app") -> str:
    ensure_loaded()
    response = call(
        client, "post", "/api/v1/age-gate/", {"birth_date": birth_date(age), "country": country, "client": client_kind}
    )
    assert response.status_code == 200, response.content
    token: str = response.json()["decision_token"]
    return token


def adult_signup_body(email: str = "ada@example.com") -> dict[str, Any]:
    return {
        "email": email,
        "password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "accept_policy": True,
    }


def app_login(client: Client, login: str, password: str = PASSWORD) -> str:
    """Sign in through allauth's app client; the session token for X-Session-Token."""
    key = "email" if "@" in login else "username"
    response = call(client, "post", "/_allauth/app/v1/auth/login", {key: login, "password": password})
    assert response.status_code == 200, response.content
    token: str = response.json()["meta"]["session_token"]
    return token
