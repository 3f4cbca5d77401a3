"""2Checkout: hosted checkout link, IPN signature (HMAC-SHA256 and legacy HMAC-MD5), read receipt, replays."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.urls import reverse

from billing import services
from billing.gateways import twocheckout
from billing.models import Invoice, Order, ProcessedNotification
from tests.billing.factories import BILLING, PlanFactory
from tests.billing.helpers import SECRET, signed_ipn

pytestmark = pytest.mark.django_db
IPN_URL = "/billing/2checkout/ipn/"


@pytest.fixture(autouse=True)
def twocheckout_settings(settings: Any) -> None:
    settings.TWOCHECKOUT_SECRET_KEY = SECRET
    settings.TWOCHECKOUT_MERCHANT_CODE = "MINDOMO"
    settings.TWOCHECKOUT_BUY_LINK_SECRET = "buy-link-secret"
    settings.TWOCHECKOUT_CHECKOUT_URL = "https://secure.2checkout.test/checkout/buy"


@pytest.fixture
def order(member: Any) -> Order:
    return services.order_create(user=member, plan=PlanFactory(price=Decimal("50.00")), **BILLING)


# The documented read-receipt example: secret key AABBCCDDEEFF, IPN_PID[0]=1, IPN_PNAME[0]="Software program",
# IPN_DATE=DATE=20050303123434. Expected digests computed independently with
# `printf %s '1116Software program14200503031234341420050303123434' | openssl dgst -md5|-sha256 -hmac AABBCCDDEEFF`.
DOC_IPN = twocheckout.Ipn(
    algorithm="md5",
    values={"IPN_PID[]": "1", "IPN_PNAME[]": "Software program", "IPN_DATE": "20050303123434"},
    signature="",
)


def test_read_receipt_md5_matches_the_documented_example() -> None:
    receipt = twocheckout.read_receipt(DOC_IPN, date="20050303123434", secret_key="AABBCCDDEEFF")

    assert receipt == "<EPAYMENT>20050303123434|7bf97ed39681027d0c45aa45e3ea98f0</EPAYMENT>"


def test_read_receipt_sha256_matches_the_documented_example() -> None:
    ipn = twocheckout.Ipn(algorithm="sha256", values=DOC_IPN.values, signature="")

    receipt = twocheckout.read_receipt(ipn, date="20050303123434", secret_key="AABBCCDDEEFF")

    assert receipt == (
        '<sig algo="sha256" date="20050303123434">'
        "ea6f44c39b3d204b59500998fcb9221c92744d9721a94b45fc6d5cda99980176</sig>"
    )


def test_length_prefix_counts_utf8_bytes_and_empty_is_zero() -> None:
    assert twocheckout.serialize(["Zoë", "", "€"]) == "4Zoë03€"


def post_ipn(client: Any, fields: list[tuple[str, str]]) -> Any:
    return client.post(IPN_URL, urlencode(fields), content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_signed_ipn_marks_the_order_paid_and_answers_the_read_receipt(
    client: Any, order: Order, algorithm: str
) -> None:
    response = post_ipn(client, signed_ipn(order, algorithm=algorithm))

    order.refresh_from_db()
    body = response.content.decode()
    assert response.status_code == 200
    assert body.startswith("<EPAYMENT>" if algorithm == "md5" else '<sig algo="sha256" date="')
    assert order.status == Order.Status.PAID
    assert order.gateway == "2checkout"
    assert order.gateway_transaction_id == "4711"
    invoice = Invoice.objects.get(order=order)
    assert invoice.total == order.total
    assert invoice.gateway == "2checkout"


def test_replayed_ipn_is_acknowledged_and_changes_nothing(client: Any, order: Order) -> None:
    fields = signed_ipn(order)
    post_ipn(client, fields)
    order.refresh_from_db()
    paid_at = order.paid_at

    replay = post_ipn(client, fields)

    order.refresh_from_db()
    assert replay.status_code == 200
    assert replay.content.decode().startswith("<sig")
    assert order.paid_at == paid_at
    assert Invoice.objects.count() == 1
    assert ProcessedNotification.objects.count() == 1


@pytest.mark.parametrize("tamper", ["amount", "signature", "unsigned"])
def test_tampered_ipn_is_refused_and_changes_nothing(client: Any, order: Order, tamper: str) -> None:
    fields = signed_ipn(order)
    if tamper == "amount":
        fields = [(k, "0.01" if k == "IPN_TOTALGENERAL" else v) for k, v in fields]
    elif tamper == "signature":
        fields = [(k, "0" * 64 if k == "SIGNATURE_SHA2_256" else v) for k, v in fields]
    else:
        fields = fields[:-1]

    response = post_ipn(client, fields)

    order.refresh_from_db()
    assert response.status_code == 400
    assert b"Invalid signature" in response.content
    assert order.status == Order.Status.PENDING
    assert not Invoice.objects.exists()
    assert not ProcessedNotification.objects.exists()


def test_signed_ipn_with_the_wrong_amount_is_refused_and_changes_nothing(client: Any, order: Order) -> None:
    response = post_ipn(client, signed_ipn(order, total="1.00"))

    order.refresh_from_db()
    assert response.status_code == 400
    assert b"does not match the order" in response.content
    assert order.status == Order.Status.PENDING
    assert not Invoice.objects.exists()
    assert not ProcessedNotification.objects.exists()


def test_refund_ipn_issues_a_credit_note_once(client: Any, order: Order) -> None:
    post_ipn(client, signed_ipn(order))
    refund = signed_ipn(order, status="REFUND")

    post_ipn(client, refund)
    post_ipn(client, refund)

    order.refresh_from_db()
    invoice = Invoice.objects.get(kind=Invoice.Kind.INVOICE)
    credit = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert order.status == Order.Status.REFUNDED
    assert (credit.credited_invoice, credit.total, credit.number) == (invoice, -invoice.total, credit.number)
    assert credit.number.startswith("CN-")


def test_hosted_checkout_redirects_with_the_orders_parameters_signed(member_client: Any, order: Order) -> None:
    response = member_client.post(reverse("billing:order_twocheckout", args=[order.reference]))

    assert response.status_code == 302
    url = urlsplit(response["Location"])
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://secure.2checkout.test/checkout/buy"
    assert (params["order-ext-ref"], params["price"], params["currency"]) == (str(order.reference), "60.00", "EUR")
    assert params["return-url"] == f"http://testserver/billing/orders/{order.reference}/"
    signed = {k: v for k, v in params.items() if k not in {"merchant", "test", "signature", "email"}}
    base = "".join(f"{len(signed[k].encode())}{signed[k]}" for k in sorted(signed))
    assert params["signature"] == hmac.new(b"buy-link-secret", base.encode(), hashlib.sha256).hexdigest()


def test_buyer_returning_from_2checkout_waits_then_sees_the_invoice(
    member_client: Any, order: Order, client: Any
) -> None:
    url = reverse("billing:order_status", args=[order.reference])
    waiting = member_client.get(url)

    post_ipn(client, signed_ipn(order))
    after = member_client.get(url)

    assert waiting.status_code == 200
    assert "not confirmed yet" in waiting.content.decode()
    invoice = Invoice.objects.get(order=order)
    assert after.status_code == 302
    assert after["Location"] == reverse("billing:invoice_detail", args=[invoice.number])


def test_another_user_cannot_see_the_order_status(order: Order, other_member: Any, client: Any) -> None:
    client.force_login(other_member)

    assert client.get(reverse("billing:order_status", args=[order.reference])).status_code == 404


def test_refund_ipn_after_the_account_was_deleted_credits_the_detached_invoice(
    client: Any, order: Order, member: Any, erase_now: Any
) -> None:
    post_ipn(client, signed_ipn(order))
    refund = signed_ipn(order, status="REFUND")
    erase_now(member)

    response = post_ipn(client, refund)

    invoice = Invoice.objects.get(kind=Invoice.Kind.INVOICE)
    credit = Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE)
    assert response.status_code == 200
    assert invoice.user_id is None
    assert (credit.credited_invoice, credit.total, credit.billing_full_name) == (
        invoice,
        -invoice.total,
        invoice.billing_full_name,
    )


def test_paid_ipn_for_an_unknown_order_is_refused_and_changes_nothing(client: Any, order: Order) -> None:
    fields = signed_ipn(order)
    Order.objects.filter(pk=order.pk).delete()

    response = post_ipn(client, fields)

    assert response.status_code == 400
    assert b"unknown order" in response.content
    assert not Invoice.objects.exists()
    assert not ProcessedNotification.objects.exists()
