"""A child in the consent flow, the way a browser does it: passing the age gate (a POST to the gate, which sets the
cookie), the child's sealed sign-up, and the link the parent is emailed."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from consent.reference_data import ensure_loaded


def birth_date_for_age(
    years: int, *, today: datetime.date | None = None, days_after_birthday: int = 30
) -> datetime.date:
    """A birth date making someone ``years`` old today (their birthday ``days_after_birthday`` days ago)."""
    today = today or timezone.localdate()
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


CHILD_PASSWORD = "purple-giraffe-runs-42"
LINK = re.compile(r"https?://\S+/consent/parent/[^\s\"<]+/")


def child_signup(
    client: Client,
    run: Callable[..., Any],
    *,
    login: str = "mia2016",
    parent: str = "parent@example.org",
    age: int = 10,
    country: str = "US",
) -> Any:
    pass_age_gate(client, age=age, country=country)
    return run(
        client.post,
        reverse("consent:child_signup"),
        {"login": login, "password1": CHILD_PASSWORD, "password2": CHILD_PASSWORD, "parent_email": parent},
    )


def parent_link(to: str = "parent@example.org") -> str:
    message = [m for m in mail.outbox if m.to == [to] and "permission" in m.subject][-1]
    match = LINK.search(message.body)
    assert match, message.body
    return path_of(match.group(0))


def path_of(link: str) -> str:
    return re.sub(r"^https?://[^/]+", "", link)
