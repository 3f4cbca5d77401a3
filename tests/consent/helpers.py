"""Passing the age gate in tests, the way a browser does (a POST to the gate, which sets the cookie)."""

from __future__ import annotations

import datetime
from typing import Any

from django.test import Client
from django.urls import reverse

from consent.reference_data import ensure_loaded


def birth_date_for_age(
    years: int, *, today: datetime.date | None = None, days_after_birthday: int = 30
) -> datetime.date:
    """A birth date making someone ``years`` old today (their birthday ``days_after_birthday`` days ago)."""
    today = today or datetime.date.today()
    anchor = today - datetime.timedelta(days=days_after_birthday)
    try:
        return anchor.replace(year=anchor.year - years)
    except ValueError:  # 29 February
        return anchor.replace(year=anchor.year - years, day=28)


def gate_data(birth_date: datetime.date, country: str, subdivision: str = "") -> dict[str, Any]:
    return {
        "day": str(birth_date.day),
        "month": str(birth_date.month),
        "year": str(birth_date.year),
        "country": country,
        "subdivision": subdivision,
    }


def pass_age_gate(client: Client, *, age: int = 30, country: str = "GB", next_url: str = "") -> Any:
    ensure_loaded()
    data = gate_data(birth_date_for_age(age), country)
    if next_url:
        data["next"] = next_url
    response = client.post(reverse("consent:age_gate"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response
