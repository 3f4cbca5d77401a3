"""No code reaches a third party except through a declared integration, and a child's data reaches a provider that
is not integral only through the disclosure gate, after the parent's separate consent (COPPA §312.5(a)(2), 2025).

The rule is read from the source: only the modules ``consent.reference_data.INTEGRATIONS`` declares for a provider
import a network client (``OUTBOUND_CLIENTS``), and those of a provider that is not integral call
``consent.services.disclosure_authorize``. A test-only provider (``tests/consent/outbound_tutor.py``, to a local
HTTP server) shows the gate at work; Braintree's gateway passes it too."""

from __future__ import annotations

import ast
import json
import threading
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from billing.gateways import braintree_gateway
from consent import services
from consent.models import ConsentRecord, DisclosureConsent, LedgerEntry, ThirdParty
from consent.portal import actions
from consent.reference_data import INTEGRATIONS, OUTBOUND_CLIENTS, THIRD_PARTIES
from tests.accounts.factories import UserFactory
from tests.consent import outbound_tutor
from tests.consent.fake_braintree_verify import VerifyingFakeBraintree, configure
from tests.consent.portal_helpers import consented_child, signed_in_parent
from tests.support import outbound

INTEGRAL = {name: integral for name, _purpose, _location, integral in THIRD_PARTIES}
MUM = "mum.of.tutee@example.org"


def test_no_code_reaches_a_network_client_outside_the_declared_integrations() -> None:
    files = outbound.source_files()
    assert len(files) > 100
    assert (
        outbound.violations(files=files, integrations=INTEGRATIONS, integral=INTEGRAL, clients=OUTBOUND_CLIENTS) == []
    )


def test_every_declared_integration_is_a_registered_provider_and_a_module_that_uses_a_network_client() -> None:
    for provider, modules in INTEGRATIONS.items():
        assert provider in INTEGRAL, provider
        for module in modules:
            path = outbound.ROOT / (module.replace(".", "/") + ".py")
            assert path.exists(), module
            names = outbound.imported(ast.parse(path.read_text()))
            assert outbound.clients_used(names, OUTBOUND_CLIENTS), f"{module} uses no network client: stale"


def test_the_import_linter_contract_lets_only_the_declared_integrations_import_network_clients() -> None:
    config = tomllib.loads((outbound.ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["name"].startswith("Only the declared integrations")]
    assert contract["type"] == "forbidden"
    assert set(contract["source_modules"]) == set(outbound.PACKAGES) == set(config["root_packages"])
    assert set(contract["forbidden_modules"]) <= set(OUTBOUND_CLIENTS)
    declared = {module for modules in INTEGRATIONS.values() for module in modules}
    assert {rule.split(" -> ")[0] for rule in contract["ignore_imports"]} == declared


def _write(root: Path, name: str, text: str) -> Path:
    path = root / "app" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_the_check_finds_an_undeclared_client_and_an_integration_that_skips_the_gate(tmp_path: Path) -> None:
    files = [
        _write(tmp_path, "sneaky", "from urllib import request\n"),
        _write(tmp_path, "late", "def f():\n    import importlib\n    return importlib.import_module('httpx')\n"),
        _write(tmp_path, "parse_only", "from urllib.parse import urlencode\nimport http.cookies\n"),
        _write(tmp_path, "ungated", "import requests\n\ndef send(child):\n    requests.post('https://x', json={})\n"),
        _write(
            tmp_path,
            "gated",
            "import requests\nfrom consent import services\n\ndef send(child):\n"
            "    services.disclosure_authorize(third_party='P', subject=child, purpose='x')\n"
            "    requests.post('https://x', json={})\n",
        ),
        _write(tmp_path, "host", "import smtplib\n"),
    ]
    problems = outbound.violations(
        files=files,
        integrations={"P": ("app.ungated", "app.gated"), "Host": ("app.host",)},
        integral={"P": False, "Host": True},
        clients=OUTBOUND_CLIENTS,
        root=tmp_path,
    )
    assert problems == [
        "app.sneaky imports ['urllib.request'] but is no declared integration (INTEGRATIONS)",
        "app.late imports ['httpx'] but is no declared integration (INTEGRATIONS)",
        "app.ungated reaches P, which is not integral, without calling disclosure_authorize",
    ]


# --- the gate at work ---------------------------------------------------------------------------------------------
class _Tutor(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Tutor.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def tutor_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tutor)
    _Tutor.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/progress"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def braintree_server() -> Iterator[VerifyingFakeBraintree]:
    fake = VerifyingFakeBraintree()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def braintree(braintree_server: VerifyingFakeBraintree, settings: Any) -> Iterator[VerifyingFakeBraintree]:
    configure(settings, braintree_server)
    braintree_server.reset()
    yield braintree_server
    braintree_server.reset()


@pytest.fixture
def tutor_ai(monkeypatch: pytest.MonkeyPatch) -> ThirdParty:
    """The test-only provider: registered (not integral, receiving children's data) and its module declared."""
    monkeypatch.setitem(INTEGRATIONS, outbound_tutor.PROVIDER, ("tests.consent.outbound_tutor",))
    return ThirdParty.objects.create(
        name=outbound_tutor.PROVIDER, purpose="suggests exercises", location="United States", integral=False
    )


def _disclosed() -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(kind="disclosed"))


@pytest.mark.django_db
def test_a_childs_data_reaches_a_provider_that_is_not_integral_only_after_the_parents_separate_consent(
    tutor_ai: ThirdParty,
    tutor_server: str,
    braintree: VerifyingFakeBraintree,
    django_capture_on_commit_callbacks: Any,
) -> None:
    module = outbound.ROOT / "tests/consent/outbound_tutor.py"
    integral = {**INTEGRAL, tutor_ai.name: False}
    assert (
        outbound.violations(  # the test-only integration keeps the rule
            files=[module], integrations=INTEGRATIONS, integral=integral, clients=OUTBOUND_CLIENTS
        )
        == []
    )
    child = consented_child("tutee2016", MUM)
    report = {"child": child.username, "fractions": "7/10"}

    with pytest.raises(services.DisclosureRefused):
        outbound_tutor.progress_send(child=child, url=tutor_server, report=report)
    assert _Tutor.received == []
    assert _disclosed() == []

    mum = signed_in_parent(MUM, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        mum.post(
            reverse("consent:portal_disclosure", args=[child.pk, tutor_ai.pk]),
            {"method": "card_charge", "payment_method_nonce": "fake-valid-nonce"},
        )
    assert DisclosureConsent.objects.get().method == "card_charge"

    outbound_tutor.progress_send(child=child, url=tutor_server, report=report)
    assert _Tutor.received == [report]
    (entry,) = _disclosed()
    assert entry.detail == {
        "disclosure_to": "Tutor AI Ltd",
        "purpose": "suggest exercises",
        "verification": "card_charge",
    }
    assert entry.subject
    assert child.username not in json.dumps(entry.detail)

    # the parent stops collection: nothing goes out any more
    actions.portal_child_suspend(record=ConsentRecord.objects.get(child=child), parent_email=MUM)
    with pytest.raises(services.DisclosureRefused):
        outbound_tutor.progress_send(child=child, url=tutor_server, report=report)
    assert len(_Tutor.received) == 1
    assert len(_disclosed()) == 1


@pytest.mark.django_db
def test_a_consent_to_one_provider_or_by_a_weak_method_does_not_open_the_gate(tutor_ai: ThirdParty) -> None:
    child = consented_child("tutee2017", MUM)
    record = ConsentRecord.objects.get(child=child)
    other = ThirdParty.objects.create(name="Other Partner", purpose="x", location="EU", integral=False)
    DisclosureConsent.objects.create(
        record=record,
        third_party=other,
        method="card_charge",
        verification_ref="charge:1",
        granted_at=record.granted_at,
    )
    DisclosureConsent.objects.create(
        record=record,
        third_party=tutor_ai,
        method="card_check",
        verification_ref="check:1",
        granted_at=record.granted_at,
    )
    with pytest.raises(services.DisclosureRefused):
        services.disclosure_authorize(third_party=tutor_ai.name, subject=child, purpose="x")
    ThirdParty.objects.filter(pk=other.pk).update(active=False)
    with pytest.raises(services.DisclosureRefused):  # a provider that receives no children's data
        services.disclosure_authorize(third_party=other.name, subject=child, purpose="x")
    with pytest.raises(services.DisclosureRefused):  # a provider nobody registered
        services.disclosure_authorize(third_party="Unknown Ltd", subject=None, purpose="x")
    assert _disclosed() == []


@pytest.mark.django_db
def test_an_adults_data_and_nobodys_pass_the_gate_unrecorded(tutor_ai: ThirdParty) -> None:
    adult = UserFactory()
    assert services.disclosure_authorize(third_party=tutor_ai.name, subject=adult, purpose="x") is None
    assert services.disclosure_authorize(third_party=tutor_ai.name, subject=None, purpose="x") is None
    assert _disclosed() == []


@pytest.mark.django_db
def test_braintree_gets_no_childs_data_the_gate_refuses_before_it_connects(braintree: VerifyingFakeBraintree) -> None:
    child = consented_child("tutee2018", MUM)
    with pytest.raises(services.DisclosureRefused):
        braintree_gateway.sale(
            amount=Decimal("5.00"), order_id="order-of-a-child", nonce="fake-valid-nonce", payer=child
        )
    assert braintree.state.sales == []
    adult = UserFactory()
    assert braintree_gateway.sale(
        amount=Decimal("5.00"), order_id="order-of-an-adult", nonce="fake-valid-nonce", payer=adult
    ).success
    assert len(braintree.state.sales) == 1
    assert _disclosed() == []
