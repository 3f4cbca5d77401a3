"""Who may buy and who sees which invoice: matrices over every role; constant query counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import selectors, services
from billing.models import Order
from privacy.models import AccessLog
from tests.accounts.factories import UserFactory
from tests.billing.factories import BILLING, PlanFactory
from tests.billing.helpers import paid_invoice

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "adult", "unverified_adult", "child", "school_student", "superuser"]


def client_for(client_as: Any, role: str, owner: Any = None) -> tuple[Client, Any]:
    """The shared role fixture, plus "owner": the buyer the invoice belongs to."""
    if role != "owner":
        return client_as("adult" if role == "other_adult" else role)
    client = Client()
    client.force_login(owner)
    return client, owner


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("anonymous", False),
        ("adult", True),
        ("unverified_adult", False),
        ("child", False),
        ("school_student", False),
        ("superuser", True),
    ],
)
def test_purchase_allowed_matrix(role: str, allowed: bool, client_as: Any) -> None:
    _, user = client_for(client_as, role)

    assert selectors.purchase_allowed(user if user is not None else _anonymous()) is allowed


def _anonymous() -> Any:
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 302),
        ("adult", 200),
        ("unverified_adult", 403),
        ("child", 403),
        ("school_student", 403),
        ("superuser", 200),
    ],
)
def test_checkout_page_matrix(role: str, status: int, client_as: Any) -> None:
    plan = PlanFactory()
    client, _ = client_for(client_as, role)

    response = client.get(reverse("billing:checkout", args=[plan.pk]))

    assert response.status_code == status
    if status == 403:
        assert "accounts created or consented by a school cannot buy" in response.content.decode()


@pytest.mark.parametrize("role", ["child", "school_student", "unverified_adult"])
def test_refused_buyers_create_no_order_even_by_posting(role: str, client_as: Any) -> None:
    plan = PlanFactory()
    client, user = client_for(client_as, role)

    response = client.post(reverse("billing:checkout", args=[plan.pk]), BILLING)

    assert response.status_code == 403
    assert not Order.objects.exists()
    with pytest.raises(ValidationError, match="Children"):
        services.order_create(user=user, plan=plan, **BILLING)
    assert not Order.objects.exists()


def test_plan_page_tells_a_child_that_purchases_are_not_open(client_as: Any) -> None:
    PlanFactory(name="Premium")
    client, _ = client_for(client_as, "child")

    content = client.get(reverse("billing:plan_list")).content.decode()

    assert "cannot buy" in content
    assert reverse("billing:checkout", args=[1]) not in content


def test_checkout_with_bad_details_shows_translated_errors_and_creates_nothing(member_client: Any) -> None:
    plan = PlanFactory()

    response = member_client.post(
        reverse("billing:checkout", args=[plan.pk]),
        {**BILLING, "country": "DE", "vat_id": "FR123", "phone": "call me", "city": ""},
    )

    errors = response.context["form"].errors
    assert response.status_code == 400
    assert errors["vat_id"] == ["A VAT ID from this country starts with DE."]
    assert "phone" in errors
    assert "city" in errors
    assert not Order.objects.exists()


def test_checkout_creates_the_order_and_goes_to_payment(member_client: Any, member: Any) -> None:
    plan = PlanFactory(price=Decimal("10.00"))

    response = member_client.post(reverse("billing:checkout", args=[plan.pk]), {**BILLING, "country": "US"})

    order = Order.objects.get(user=member)
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:order_pay", args=[order.reference])
    assert (order.total, order.vat_amount, order.full_name) == (Decimal("10.00"), Decimal("0.00"), BILLING["full_name"])


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 302), ("owner", 200), ("other_adult", 404), ("superuser", 404)],
)
@pytest.mark.parametrize("page", ["invoice_detail", "invoice_pdf"])
def test_invoice_pages_matrix(member: Any, role: str, status: int, page: str, client_as: Any) -> None:
    invoice = paid_invoice(member)
    client, _ = client_for(client_as, role, owner=member)

    response = client.get(reverse(f"billing:{page}", args=[invoice.number]))

    assert response.status_code == status
    if status == 200 and page == "invoice_pdf":
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(("role", "status"), [("anonymous", 302), ("adult", 403), ("superuser", 200)])
def test_staff_pdf_needs_the_view_invoice_permission(member: Any, role: str, status: int, client_as: Any) -> None:
    invoice = paid_invoice(member)
    client, _ = client_for(client_as, role)

    response = client.get(reverse("billing:invoice_pdf_staff", args=[invoice.pk]))

    assert response.status_code == status
    # a look that was allowed is in the access log, with whose invoice it was; a refused one leaves nothing
    looks = list(AccessLog.objects.values_list("action", "model", "object_id", "subject_id"))
    assert looks == ([("view", "billing.Invoice", str(invoice.pk), member.pk)] if status == 200 else [])


def test_invoice_list_shows_only_own_invoices_in_constant_queries(
    member: Any, other_member: Any, member_client: Any, django_assert_max_num_queries: Any
) -> None:
    mine = [paid_invoice(member) for _ in range(3)]
    theirs = paid_invoice(other_member)
    member_client.get(reverse("billing:invoice_list"))  # warm the session-level caches of other apps

    with CaptureQueriesContext(connection) as few:
        response = member_client.get(reverse("billing:invoice_list"))
    for _ in range(5):
        paid_invoice(member)
    with django_assert_max_num_queries(len(few)), CaptureQueriesContext(connection) as many:
        member_client.get(reverse("billing:invoice_list"))

    content = response.content.decode()
    assert all(invoice.number in content for invoice in mine)
    assert theirs.number not in content
    assert len(many) == len(few) <= 20


def test_plan_page_shows_prices_with_the_buyers_vat_in_constant_queries(
    client: Any, django_assert_max_num_queries: Any
) -> None:
    buyer = UserFactory(country="DE")
    client.force_login(buyer)
    PlanFactory(name="Small", price=Decimal("10.00"))
    client.get(reverse("billing:plan_list"))  # warm the session-level caches of other apps

    with CaptureQueriesContext(connection) as few:
        response = client.get(reverse("billing:plan_list"))
    PlanFactory.create_batch(5)
    with django_assert_max_num_queries(len(few)):
        client.get(reverse("billing:plan_list"))

    content = response.content.decode()
    assert "€11.90" in content
    assert "€10.00 + VAT 19%" in content
