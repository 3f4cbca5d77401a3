"""The rules hold under concurrency, over HTTP against the live server, with real threads and connections.

- 200 sign-ups at once with 100 distinct emails, each twice in a different case: exactly 100 accounts (each with
  its email address and age decision, nothing half-written), the other 100 take the "account exists" path, no 5xx;
- 50 approvals of one parent's consent link at once: exactly one account;
- one Braintree webhook and one 2Checkout IPN each delivered 10 times at once: exactly one effect each.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.core import mail
from django.utils import timezone

from accounts.models import User
from billing import services as billing_services
from billing.gateways import braintree_gateway
from billing.models import BillingEvent, Invoice, Order, ProcessedNotification
from consent import age_gate
from consent import services as consent_services
from consent.models import AgeDecision, ConsentRecord, PendingSignup
from consent.reference_data import ensure_loaded
from tests.billing.factories import BILLING, PlanFactory
from tests.billing.helpers import SECRET, signed_ipn
from tests.consent.helpers import birth_date_for_age, gate_data

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _fast_and_unlimited(settings: Any) -> None:
    """Every request comes from 127.0.0.1: allauth's per-IP sign-up limit is not what this is about, nor Argon2."""
    settings.ACCOUNT_RATE_LIMITS = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def all_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Start every call at the same moment, each in its own thread; exceptions are returned, not raised."""
    barrier = threading.Barrier(len(calls), timeout=120)
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return results


def _token(response: requests.Response) -> str:
    match = TOKEN.search(response.text)
    assert match, response.text[:500]
    return match.group(1)


def _status(results: list[Any]) -> list[int]:
    assert not [r for r in results if isinstance(r, Exception)], [r for r in results if isinstance(r, Exception)][:3]
    return [r.status_code for r in results]


def _browser_at_signup(base: str) -> tuple[requests.Session, str]:
    """A browser that passed the age gate as an adult and holds the sign-up form's CSRF token."""
    browser = requests.Session()
    gate = browser.get(f"{base}/consent/age/", timeout=60)
    data = {**gate_data(birth_date_for_age(30), "GB"), "csrfmiddlewaretoken": _token(gate)}
    assert browser.post(f"{base}/consent/age/", data=data, timeout=60).status_code == 200
    return browser, _token(browser.get(f"{base}/accounts/signup/", timeout=60))


def test_200_concurrent_sign_ups_with_100_emails_make_exactly_100_accounts(live_server: Any) -> None:
    ensure_loaded()
    base = live_server.url
    emails = [f"racer{i}@race.example" for i in range(100)]
    attempts = [e for e in emails] + [e.upper().replace("@RACE.EXAMPLE", "@Race.Example") for e in emails]
    with ThreadPoolExecutor(max_workers=8) as pool:  # the browsers get ready side by side, then all post at once
        browsers = list(pool.map(lambda _i: _browser_at_signup(base), attempts))

    def sign_up(browser: requests.Session, token: str, email: str) -> requests.Response:
        data = {
            "csrfmiddlewaretoken": token,
            "email": email,
            "password1": "correct-Horse-battery-9",
            "password2": "correct-Horse-battery-9",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "accept_policy": "on",
        }
        return browser.post(f"{base}/accounts/signup/", data=data, timeout=120, allow_redirects=False)

    results = all_at_once(
        [lambda b=b, t=t, e=e: sign_up(b, t, e) for (b, t), e in zip(browsers, attempts, strict=True)]
    )

    statuses = _status(results)
    assert [s for s in statuses if s >= 500] == []
    # every attempt, new or duplicate, ends on the same "check your email" page: nothing tells them apart
    assert set(statuses) == {302}, statuses
    assert {r.headers["Location"] for r in results} == {"/accounts/confirm-email/"}
    accounts = User.objects.filter(email__iendswith="@race.example")
    assert accounts.count() == 100
    assert sorted(a.lower() for a in accounts.values_list("email", flat=True)) == sorted(emails)
    # nothing half-written: each account has its address and its age decision, nothing else exists
    assert AgeDecision.objects.filter(user__in=accounts).count() == 100
    from allauth.account.models import EmailAddress

    assert EmailAddress.objects.filter(email__iendswith="@race.example").count() == 100
    # each address hears twice: the verification of the new account, and that an account exists (the email a
    # sign-up with a known address gets)
    sent = [(m.to[0].lower(), "Already Exists" in m.subject) for m in mail.outbox if m.to[0].endswith(("example",))]
    assert sorted(sent) == sorted([(e, False) for e in emails] + [(e, True) for e in emails])


def test_50_concurrent_approvals_of_one_parent_link_make_one_account(live_server: Any) -> None:
    ensure_loaded()
    decision = age_gate.decide(birth_date=birth_date_for_age(10), country="US", today=timezone.now().date())
    sealed = consent_services.pending_signup_create(
        login="race.kid", password="purple-giraffe-runs-42", parent_email="parent.race@example.com", decision=decision
    )
    url = f"{live_server.url}/consent/parent/{sealed.public_id}/{sealed.key}/"

    def opened() -> tuple[requests.Session, str]:
        browser = requests.Session()
        return browser, _token(browser.get(url, timeout=60))

    with ThreadPoolExecutor(max_workers=8) as pool:
        parents = list(pool.map(lambda _i: opened(), range(50)))

    results = all_at_once(
        [
            lambda b=b, t=t: b.post(
                url, data={"csrfmiddlewaretoken": t, "action": "approve", "guardian": "on"}, timeout=120
            )
            for b, t in parents
        ]
    )

    statuses = _status(results)
    assert [s for s in statuses if s >= 500] == []
    assert User.objects.filter(username__iexact="race.kid").count() == 1
    assert ConsentRecord.objects.filter(child__username__iexact="race.kid").count() == 1
    assert not PendingSignup.objects.exists()
    assert sum("race.kid" in r.text for r in results) == 1  # one parent saw the approval, the others a used link


@pytest.fixture
def paid_order(fake_braintree: Any) -> Order:
    from tests.accounts.factories import UserFactory

    buyer = UserFactory()
    order = billing_services.order_create(user=buyer, plan=PlanFactory(price=Decimal("50.00")), **BILLING)
    billing_services.order_pay_braintree(user=buyer, order_reference=str(order.reference), nonce="fake-valid-nonce")
    order.refresh_from_db()
    return order


def test_one_braintree_webhook_delivered_10_times_at_once_has_one_effect(live_server: Any, paid_order: Order) -> None:
    notification = braintree_gateway.sample_webhook(kind="dispute_opened", subject_id=paid_order.gateway_transaction_id)
    url = f"{live_server.url}/billing/braintree/webhook/"

    results = all_at_once([lambda: requests.post(url, data=notification, timeout=120) for _ in range(10)])

    assert set(_status(results)) == {200}
    paid_order.refresh_from_db()
    assert paid_order.dispute_status == "open"
    assert BillingEvent.objects.filter(order=paid_order, kind=BillingEvent.Kind.DISPUTE).count() == 1
    assert ProcessedNotification.objects.filter(gateway="braintree").count() == 1


def test_one_2checkout_ipn_delivered_10_times_at_once_pays_once(live_server: Any, settings: Any) -> None:
    from tests.accounts.factories import UserFactory

    settings.TWOCHECKOUT_SECRET_KEY = SECRET
    settings.TWOCHECKOUT_MERCHANT_CODE = "250111206876"
    order = billing_services.order_create(user=UserFactory(), plan=PlanFactory(price=Decimal("50.00")), **BILLING)
    fields = signed_ipn(order)
    url = f"{live_server.url}/billing/2checkout/ipn/"

    results = all_at_once([lambda: requests.post(url, data=fields, timeout=120) for _ in range(10)])

    assert set(_status(results)) == {200}
    assert all("<sig" in r.text for r in results)  # each delivery gets its read receipt
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert Invoice.objects.filter(order=order).count() == 1
