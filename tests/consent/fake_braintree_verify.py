"""Braintree's card verification endpoint, added to the billing tests' local fake of Braintree's API.

Nonces choose the outcome as in Braintree's sandbox: ``fake-valid-nonce`` is verified,
``fake-processor-declined-visa-nonce`` is declined, anything else is a 422 validation error.
"""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from http.server import ThreadingHTTPServer
from typing import Any

from tests.billing.fake_braintree import FakeBraintree, FakeBraintreeState, Handler, _el


class VerifyingHandler(Handler):
    def do_POST(self) -> None:
        path = self.path.split("/merchants/", 1)[-1].split("/", 1)[-1]
        if path != "verifications":
            super().do_POST()
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        with self.state.lock:
            self.state.requests.append((self.path, raw))
        if self.state.fail_with_status:
            self._reply(self.state.fail_with_status, None)
            return
        body = ET.fromstring(raw)
        nonce = body.findtext("payment-method-nonce") or body.findtext("payment_method_nonce") or ""
        amount = body.findtext("options/amount") or ""
        if nonce not in {"fake-valid-nonce", "fake-processor-declined-visa-nonce"}:
            root = ET.Element("api-error-response")
            errors = _el(root, "errors")
            _el(errors, "errors", type="array")
            _el(root, "message", "Unknown payment_method_nonce.")
            self._reply(422, root)
            return
        verification = ET.Element("verification")
        _el(verification, "id", f"ver{next(self.state.ids)}")
        _el(verification, "amount", amount)
        card = _el(verification, "credit-card")
        _el(card, "last-4", "1111")
        _el(card, "card-type", "Visa")
        if nonce == "fake-processor-declined-visa-nonce":
            _el(verification, "status", "processor_declined")
            root = ET.Element("api-error-response")
            _el(_el(root, "errors"), "errors", type="array")
            _el(root, "message", "Do Not Honor")
            root.append(verification)
            self._reply(422, root)
            return
        _el(verification, "status", "verified")
        self._reply(201, verification)


class VerifyingFakeBraintree(FakeBraintree):
    def __init__(self) -> None:
        super().__init__()
        self.server.server_close()
        handler = type("BoundVerifyingHandler", (VerifyingHandler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def verifications(self) -> list[str]:
        return [raw for path, raw in self.state.requests if path.endswith("/verifications")]

    def reset(self) -> None:
        self.state.__dict__.update(FakeBraintreeState().__dict__)


def configure(settings: Any, fake: VerifyingFakeBraintree) -> None:
    settings.BRAINTREE_ENVIRONMENT = "local"
    settings.BRAINTREE_LOCAL_PORT = fake.port
    settings.BRAINTREE_MERCHANT_ID = fake.merchant_id
    settings.BRAINTREE_PUBLIC_KEY = fake.public_key
    settings.BRAINTREE_PRIVATE_KEY = fake.private_key
    settings.BRAINTREE_MERCHANT_ACCOUNT_ID = ""
    settings.BRAINTREE_TIMEOUT_SECONDS = 0.5
