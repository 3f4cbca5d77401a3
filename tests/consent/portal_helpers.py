"""Consented children made the way production makes them (the child asks, the parent approves), and a
parent signed in to the portal through the emailed single-use link."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from consent import age_gate, services
from consent.reference_data import ensure_loaded
from tests.consent.helpers import birth_date_for_age

CHILD_PASSWORD = "purple-giraffe-runs-42"


def consented_child(login: str, parent_email: str, *, age: int = 10, country: str = "US") -> User:
    ensure_loaded()
    decision = age_gate.decide(birth_date=birth_date_for_age(age), country=country, today=timezone.now().date())
    sealed = services.pending_signup_create(
        login=login, password=CHILD_PASSWORD, parent_email=parent_email, decision=decision
    )
    return services.pending_signup_approve(public_id=sealed.public_id, key=sealed.key, guardian_confirmed=True)


def link_from_outbox(to: str) -> str:
    for message in reversed(mail.outbox):
        if to in message.to and "/consent/parents/link/" in message.body:
            match = re.search(r"https?://\S+/consent/parents/link/\S+/", message.body)
            assert match, message.body
            return "/consent/" + match.group(0).split("/consent/", 1)[1]
    raise AssertionError(f"no sign-in link was sent to {to}")


def ask_link(client: Client, email: str, capture: Any) -> Any:
    with capture(execute=True):
        return client.post(reverse("consent:portal"), {"email": email})


def signed_in_parent(email: str, capture: Any) -> Client:
    client = Client()
    ask_link(client, email, capture)
    response = client.post(link_from_outbox(email))
    assert response.status_code == 302
    assert response["Location"] == reverse("consent:portal_children")
    return client
