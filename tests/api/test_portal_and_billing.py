"""The parent portal and billing reads over the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User
from billing.models import Invoice
from consent.models import Guardian, ParentalControl
from tests.accounts.factories import UserFactory
from tests.api.helpers import app_login, call
from tests.billing.helpers import paid_invoice
from tests.consent.portal_helpers import consented_child

pytestmark = pytest.mark.django_db

PARENT = "parent.of.mia@example.org"


def _portal_token(client: Client, email: str, capture: Any) -> str:
    mail.outbox.clear()
    with capture(execute=True):
        asked = call(client, "post", "/api/v1/portal/link/", {"email": email})
    assert asked.status_code == 202
    message = next(m for m in mail.outbox if email in m.to)
    token = re.search(r"/consent/parents/link/([^/\s]+)/", message.body)
    assert token, message.body
    session = call(client, "post", "/api/v1/portal/session/", {"token": token.group(1)})
    assert session.status_code == 201, session.content
    # the link works once
    again = call(client, "post", "/api/v1/portal/session/", {"token": token.group(1)})
    assert again.status_code == 410
    portal_token: str = session.json()["portal_token"]
    return portal_token


def test_the_link_request_answers_the_same_for_an_unknown_address(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    consented_child("mia2016", PARENT)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        known = call(client, "post", "/api/v1/portal/link/", {"email": PARENT})
        unknown = call(client, "post", "/api/v1/portal/link/", {"email": "nobody@example.org"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert [m.to for m in mail.outbox] == [[PARENT]]


def test_a_parent_acts_for_their_child_and_never_for_another(
    client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    child = consented_child("mia2016", PARENT)
    stranger = consented_child("tom2015", "other.parent@example.org")
    auth = {"X-Portal-Token": _portal_token(client, PARENT, django_capture_on_commit_callbacks)}

    children = call(client, "get", "/api/v1/portal/children/", **auth).json()
    assert [c["username"] for c in children["items"]] == ["mia2016"]
    overview = call(client, "get", f"/api/v1/portal/children/{child.pk}/", **auth)
    assert overview.status_code == 200
    assert overview.json()["child"]["username"] == "mia2016"
    assert {e["kind"] for e in overview.json()["consent_history"]} >= {"granted"}

    for path, body in [
        (f"/api/v1/portal/children/{stranger.pk}/", None),
        (f"/api/v1/portal/children/{stranger.pk}/collection/", {"action": "stop"}),
        (f"/api/v1/portal/children/{stranger.pk}/password/", {"password": "another-long-secret-12"}),
        (f"/api/v1/portal/children/{stranger.pk}/guardians/", {"email": "x@example.org"}),
        (f"/api/v1/portal/children/{stranger.pk}/delete/", {"action": "delete", "confirm": True}),
        (f"/api/v1/portal/children/{stranger.pk}/download/", None),
        ("/api/v1/portal/children/999999/", None),
    ]:
        response = call(client, "get" if body is None else "post", path, body, **auth)
        assert response.status_code == 404, path
    stranger.refresh_from_db()
    assert stranger.is_active
    assert not Guardian.objects.exists()

    stopped = call(client, "post", f"/api/v1/portal/children/{child.pk}/collection/", {"action": "stop"}, **auth)
    assert stopped.json()["suspended"] is True
    child.refresh_from_db()
    assert not child.is_active
    call(client, "post", f"/api/v1/portal/children/{child.pk}/collection/", {"action": "resume"}, **auth)
    child.refresh_from_db()
    assert child.is_active
    assert ParentalControl.objects.get(record__child=child).suspended_at is None

    pw = call(
        client, "post", f"/api/v1/portal/children/{child.pk}/password/", {"password": "new-secret-for-mia-9"}, **auth
    )
    assert pw.status_code == 200
    child.refresh_from_db()
    assert child.check_password("new-secret-for-mia-9")

    with django_capture_on_commit_callbacks(execute=True):
        invited = call(
            client, "post", f"/api/v1/portal/children/{child.pk}/guardians/", {"email": "dad@example.org"}, **auth
        )
    assert invited.status_code == 201
    assert Guardian.objects.get().email == "dad@example.org"

    download = call(client, "get", f"/api/v1/portal/children/{child.pk}/download/", **auth)
    assert (download.status_code, download["Content-Type"]) == (200, "application/zip")

    unconfirmed = call(
        client, "post", f"/api/v1/portal/children/{child.pk}/delete/", {"action": "delete", "confirm": False}, **auth
    )
    assert unconfirmed.status_code == 400
    assert User.objects.filter(pk=child.pk).exists()
    deleted = call(
        client, "post", f"/api/v1/portal/children/{child.pk}/delete/", {"action": "delete", "confirm": True}, **auth
    )
    assert deleted.json() == {"erased": True, "withdrawn": False}
    assert not User.objects.filter(pk=child.pk).exists()

    assert call(client, "delete", "/api/v1/portal/session/", **auth).status_code == 200
    assert call(client, "get", "/api/v1/portal/children/", **auth).status_code == 401


def test_a_bad_portal_token_is_a_401(client: Client) -> None:
    for token in ("", "x" * 500, "not-a-session", "../../etc"):
        response = call(client, "get", "/api/v1/portal/children/", **{"X-Portal-Token": token})
        assert response.status_code == 401


def test_a_buyer_reads_their_orders_and_invoices_and_downloads_the_pdf(client: Client) -> None:
    buyer = UserFactory(username="buyer")
    invoice = paid_invoice(buyer)
    other = UserFactory(username="other")
    others_invoice = paid_invoice(other)
    auth = {"X-Session-Token": app_login(client, "buyer")}

    invoices = call(client, "get", "/api/v1/billing/invoices/", **auth).json()
    assert [i["number"] for i in invoices["items"]] == [invoice.number]
    orders = call(client, "get", "/api/v1/billing/orders/", **auth).json()
    assert len(orders["items"]) == 1
    assert "card_number" not in orders["items"][0]
    pdf = call(client, "get", f"/api/v1/billing/invoices/{invoice.number}/pdf/", **auth)
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert call(client, "get", f"/api/v1/billing/invoices/{others_invoice.number}/pdf/", **auth).status_code == 404
    assert Invoice.objects.count() == 2


def test_plans_are_public(client: Client) -> None:
    response = call(client, "get", "/api/v1/billing/plans/")
    assert response.status_code == 200
    assert "items" in response.json()
