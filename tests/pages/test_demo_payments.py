"""`make run` without Braintree keys: demo payments through the offline stand-in, clearly labelled, and never
with DJANGO_DEBUG=false or against a real Braintree environment."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Invoice, Order, Plan

ROOT = Path(__file__).resolve().parents[2]


def _setting_with(env: dict[str, str]) -> str:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.BILLING_DEMO_PAYMENTS, settings.BILLING_DROPIN_TEMPLATE)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BRAINTREE_", "BILLING_", "DJANGO_DEBUG"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "mindomo.settings.base", "DJANGO_SECRET_KEY": "x" * 50, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DJANGO_DEBUG": "true", "BILLING_DEMO_PAYMENTS": "true", "BRAINTREE_ENVIRONMENT": "local"}, "True"),
        ({"DJANGO_DEBUG": "false", "BILLING_DEMO_PAYMENTS": "true", "BRAINTREE_ENVIRONMENT": "local"}, "False"),
        ({"DJANGO_DEBUG": "true", "BILLING_DEMO_PAYMENTS": "true", "BRAINTREE_ENVIRONMENT": "sandbox"}, "False"),
        ({"DJANGO_DEBUG": "true", "BRAINTREE_ENVIRONMENT": "local"}, "False"),
    ],
    ids=["debug-and-local", "debug-off", "real-braintree", "not-asked"],
)
def test_demo_payments_only_in_debug_against_the_local_stand_in(env: dict[str, str], expected: str) -> None:
    demo, template = _setting_with(env).split()
    assert demo == expected
    assert (template == "billing/_dropin_demo.html") == (expected == "True")


def _devstack() -> Any:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import devstack
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return devstack


def test_make_run_starts_the_stand_in_without_keys_and_not_with_them() -> None:
    devstack = _devstack()
    with ExitStack() as stack:
        env = {"DJANGO_DEBUG": "1"}
        devstack._start_demo_payments(env, stack)
        assert env["BILLING_DEMO_PAYMENTS"] == "true"
        assert env["BRAINTREE_ENVIRONMENT"] == "local"
        assert int(env["BRAINTREE_LOCAL_PORT"]) > 0
    for env in ({"DJANGO_DEBUG": "1", "BRAINTREE_MERCHANT_ID": "real"}, {"DJANGO_DEBUG": "false"}):
        with ExitStack() as stack:
            before = dict(env)
            devstack._start_demo_payments(env, stack)
            assert env == before


@pytest.mark.django_db
def test_a_buyer_pays_with_the_demo_card_and_gets_the_invoice(
    member: Any, member_client: Client, fake_braintree: Any, settings: Any
) -> None:
    settings.BILLING_DROPIN_TEMPLATE = "billing/_dropin_demo.html"
    plan = Plan.objects.create(name="Premium", price=Decimal("60.00"), currency="EUR", duration_days=365)
    member_client.post(
        reverse("billing:checkout", args=[plan.pk]),
        {
            "full_name": "Ada Lovelace",
            "country": "US",
            "address": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "state": "Oregon",
            "phone": "+1 555 0100",
        },
    )
    order = Order.objects.get(user=member)
    pay_url = reverse("billing:order_pay", args=[order.reference])
    html = member_client.get(pay_url).content.decode()
    assert "Demo payments" in html
    assert 'value="fake-valid-nonce"' in html
    member_client.post(pay_url, {"payment_method_nonce": "fake-valid-nonce"})
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Invoice.objects.filter(user=member).count() == 1
