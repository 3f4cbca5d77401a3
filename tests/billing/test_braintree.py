"""Braintree purchases: the real SDK against the local fake of Braintree's API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse

from billing import services
from billing.models import BillingEvent, Invoice, Order
from consent.services import consent_record_school
from schools.models import School
from tests.billing.factories import BILLING, PlanFactory
from tests.billing.fake_braintree import CARD_CVV, CARD_NUMBER
from tests.support import roles
from tests.support.dbscan import tables_containing

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(member: Any) -> Order:
    return services.order_create(user=member, plan=PlanFactory(price=Decimal("50.00")), **BILLING)


def pay(client: Any, order: Order, nonce: str) -> Any:
    return client.post(reverse("billing:order_pay", args=[order.reference]), {"payment_method_nonce": nonce})


def test_french_consumer_pays_french_vat(order: Order) -> None:
    assert (order.vat_rate, order.vat_amount, order.total) == (Decimal("20.00"), Decimal("10.00"), Decimal("60.00"))


def test_successful_sale_marks_paid_issues_invoice_and_keeps_only_brand_last4_expiry(
    member_client: Any, order: Order, fake_braintree: Any, mailoutbox: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = pay(member_client, order, "fake-valid-nonce")

    order.refresh_from_db()
    invoice = Invoice.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:invoice_detail", args=[invoice.number])
    assert order.status == Order.Status.PAID
    assert (order.card_brand, order.card_last4, order.card_exp_month, order.card_exp_year) == ("Visa", "1111", 12, 2030)
    sale = fake_braintree.state.charged()[0]
    assert (sale.order_id, sale.amount, sale.nonce) == (str(order.reference), "60.00", "fake-valid-nonce")
    assert invoice.total == Decimal("60.00")
    assert invoice.billing_full_name == "Zoë Éléonore Dupré"
    assert [m.to for m in mailoutbox] == [[order.user.email]]
    assert mailoutbox[0].attachments[0][0] == f"{invoice.number}.pdf"
    # no card number, CVC or BIN anywhere in the database
    assert tables_containing(CARD_NUMBER) == {}
    assert tables_containing("411111") == {}
    assert "cvv" not in str(fake_braintree.state.requests).lower()
    assert CARD_CVV not in str(tables_containing(CARD_CVV))


def test_declined_card_shows_reason_and_leaves_order_unpaid(
    member_client: Any, order: Order, fake_braintree: Any
) -> None:
    response = pay(member_client, order, "fake-processor-declined-visa-nonce")

    order.refresh_from_db()
    assert response.status_code == 402
    assert "Your card was declined (Do Not Honor)" in response.content.decode()
    assert order.status == Order.Status.PENDING
    assert not Invoice.objects.exists()
    assert BillingEvent.objects.filter(order=order, kind=BillingEvent.Kind.PAYMENT_DECLINED).exists()


def test_validation_error_422_shows_message_and_leaves_order_unpaid(
    member_client: Any, order: Order, fake_braintree: Any
) -> None:
    response = pay(member_client, order, "tampered-nonce")

    order.refresh_from_db()
    assert response.status_code == 402
    assert "The payment details were not accepted" in response.content.decode()
    assert order.status == Order.Status.PENDING
    assert not Invoice.objects.exists()


def test_gateway_outage_shows_message_charges_nothing_and_the_retry_checks_first(
    member_client: Any, order: Order, fake_braintree: Any
) -> None:
    fake_braintree.state.fail_with_status = 500

    response = pay(member_client, order, "fake-valid-nonce")

    order.refresh_from_db()
    assert response.status_code == 402
    assert "The payment service is unavailable right now" in response.content.decode()
    assert "Card payments are unavailable right now" in response.content.decode()  # no client token either
    assert order.status == Order.Status.PENDING
    assert fake_braintree.state.charged() == []
    fake_braintree.state.fail_with_status = None
    before = len(fake_braintree.state.requests)

    retry = pay(member_client, order, "fake-valid-nonce")

    order.refresh_from_db()
    paths = [path.split("/merchants/fake-merchant/")[-1] for path, _ in fake_braintree.state.requests[before:]]
    assert retry.status_code == 302
    assert order.status == Order.Status.PAID
    assert paths == ["transactions/advanced_search_ids", "transactions"]  # asked first, then charged once
    assert len(fake_braintree.state.charged()) == 1


def test_timeout_then_retry_finds_the_first_charge_and_never_charges_twice(
    member_client: Any, order: Order, fake_braintree: Any
) -> None:
    first = pay(member_client, order, "fake-timeout-nonce")
    order.refresh_from_db()
    assert first.status_code == 402
    assert "did not answer in time" in first.content.decode()
    assert order.status == Order.Status.PENDING
    assert order.charge_outcome_unknown

    second = pay(member_client, order, "fake-valid-nonce")

    order.refresh_from_db()
    assert second.status_code == 302
    assert order.status == Order.Status.PAID
    assert not order.charge_outcome_unknown
    assert len(fake_braintree.state.charged(str(order.reference))) == 1
    assert order.gateway_transaction_id == fake_braintree.state.charged()[0].id


def test_paying_a_paid_order_again_charges_nothing(member_client: Any, order: Order, fake_braintree: Any) -> None:
    pay(member_client, order, "fake-valid-nonce")
    again = pay(member_client, order, "fake-valid-nonce")

    assert again.status_code == 302
    assert len(fake_braintree.state.charged()) == 1
    assert Invoice.objects.count() == 1


def test_empty_nonce_is_refused_without_calling_the_gateway(
    member_client: Any, order: Order, fake_braintree: Any
) -> None:
    response = pay(member_client, order, "")

    assert response.status_code == 400
    assert fake_braintree.state.charged() == []
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


def test_another_users_order_cannot_be_paid(other_member: Any, order: Order, fake_braintree: Any, client: Any) -> None:
    client.force_login(other_member)

    response = pay(client, order, "fake-valid-nonce")

    assert response.status_code == 404
    assert fake_braintree.state.charged() == []


def test_payment_page_holds_the_drop_in_with_a_client_token_and_no_inline_script(
    member_client: Any, order: Order, fake_braintree: Any
) -> None:
    response = member_client.get(reverse("billing:order_pay", args=[order.reference]))

    content = response.content.decode()
    assert response.status_code == 200
    assert 'data-client-token="fake-client-token"' in content
    assert '<script src="/static/billing/dropin.js"></script>' in content
    assert "<script>" not in content
    assert "https://js.braintreegateway.com" in response["Content-Security-Policy"]


def test_an_order_whose_buyer_became_school_consented_is_not_charged(
    member_client: Any, member: Any, order: Order, fake_braintree: Any
) -> None:
    school = School.objects.create(name="Lycée", country="FR", contact_email="office@school.example")
    consent_record_school(child=member, school=school, granted_by=roles.make_superuser())

    response = pay(member_client, order, "fake-valid-nonce")

    order.refresh_from_db()
    assert response.status_code == 403
    assert order.status == Order.Status.PENDING
    assert fake_braintree.state.charged() == []
