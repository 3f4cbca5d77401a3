"""A local stand-in for Braintree's XML API, enough for the real SDK's calls we make.

Nonces choose the outcome, like Braintree's sandbox test nonces:
``fake-valid-nonce`` succeeds, ``fake-processor-declined-visa-nonce`` is declined (2000), any other unknown
nonce is a 422 validation error, ``fake-timeout-nonce`` is charged but answered too late (the client times
out). ``fail_with_status`` makes every call answer with that HTTP status (a gateway outage).
"""

from __future__ import annotations

import itertools
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.smtp import free_port

CARD = {"bin": "411111", "last-4": "1111", "card-type": "Visa", "expiration-month": "12", "expiration-year": "2030"}
CARD_NUMBER = "4111111111111111"
CARD_CVV = "737"


@dataclass
class Sale:
    id: str
    order_id: str
    amount: str
    nonce: str
    status: str
    kind: str = "sale"


@dataclass
class FakeBraintreeState:
    sales: list[Sale] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail_with_status: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def charged(self, order_id: str | None = None) -> list[Sale]:
        return [
            s
            for s in self.sales
            if s.kind == "sale" and s.status != "processor_declined" and (order_id is None or s.order_id == order_id)
        ]


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = text
    return element


def _transaction_xml(parent: ET.Element | None, sale: Sale) -> ET.Element:
    tx = ET.Element("transaction") if parent is None else _el(parent, "transaction")
    _el(tx, "id", sale.id)
    _el(tx, "status", sale.status)
    _el(tx, "type", sale.kind)
    _el(tx, "amount", sale.amount)
    _el(tx, "currency-iso-code", "EUR")
    _el(tx, "order-id", sale.order_id)
    declined = sale.status == "processor_declined"
    _el(tx, "processor-response-code", "2000" if declined else "1000")
    _el(tx, "processor-response-text", "Do Not Honor" if declined else "Approved")
    card = _el(tx, "credit-card")
    for key, value in CARD.items():
        _el(card, key, value)
    return tx


class Handler(BaseHTTPRequestHandler):
    state: FakeBraintreeState

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, root: ET.Element | None) -> None:
        body = b"" if root is None else b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)
        self.send_response(status)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        self.do_POST()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        state = self.state
        with state.lock:
            state.requests.append((self.path, raw))
        if state.fail_with_status:
            self._reply(state.fail_with_status, None)
            return
        body = ET.fromstring(raw) if raw else ET.Element("empty")
        path = self.path.split("/merchants/", 1)[-1].split("/", 1)[-1]
        if path == "client_token":
            root = ET.Element("client-token")
            _el(root, "value", "fake-client-token")
            self._reply(201, root)
        elif path == "transactions":
            self._sale(body)
        elif path == "transactions/advanced_search_ids":
            order_id = body.findtext("order_id/is") or ""
            with state.lock:
                ids = [s.id for s in state.sales if s.order_id == order_id]
            root = ET.Element("search-results")
            _el(root, "page-size", "50", type="integer")
            id_list = _el(root, "ids", type="array")
            for tx_id in ids:
                _el(id_list, "item", tx_id)
            self._reply(200, root)
        elif path == "transactions/advanced_search":
            wanted = {item.text for item in body.findall("ids/item")}
            with state.lock:
                found = [s for s in state.sales if s.id in wanted]
            root = ET.Element("credit-card-transactions", type="collection")
            _el(root, "current-page-number", "1", type="integer")
            _el(root, "page-size", "50", type="integer")
            _el(root, "total-items", str(len(found)), type="integer")
            for sale in found:
                _transaction_xml(root, sale)
            self._reply(200, root)
        elif path.startswith("transactions/") and path.endswith("/refund"):
            original_id = path.split("/")[1]
            with state.lock:
                original = next((s for s in state.sales if s.id == original_id), None)
                if original is None:
                    self._reply(404, None)
                    return
                credit = Sale(
                    f"tx{next(state.ids)}",
                    original.order_id,
                    original.amount,
                    "",
                    "submitted_for_settlement",
                    kind="credit",
                )
                state.sales.append(credit)
            self._reply(201, _transaction_xml(None, credit))
        else:
            self._reply(404, None)

    def _sale(self, body: ET.Element) -> None:
        state = self.state
        nonce = body.findtext("payment_method_nonce") or ""
        order_id = body.findtext("order_id") or ""
        amount = body.findtext("amount") or "0"
        if nonce not in {"fake-valid-nonce", "fake-processor-declined-visa-nonce", "fake-timeout-nonce"}:
            root = ET.Element("api-error-response")
            errors = _el(root, "errors")
            _el(errors, "errors", type="array")
            tx_errors = _el(_el(errors, "transaction"), "errors", type="array")
            error = _el(tx_errors, "error")
            _el(error, "code", "91565")
            _el(error, "attribute", "payment_method_nonce")
            _el(error, "message", "Unknown payment_method_nonce.")
            _el(root, "message", "Unknown payment_method_nonce.")
            self._reply(422, root)
            return
        declined = nonce == "fake-processor-declined-visa-nonce"
        with state.lock:
            sale = Sale(
                f"tx{next(state.ids)}",
                order_id,
                amount,
                nonce,
                "processor_declined" if declined else "submitted_for_settlement",
            )
            state.sales.append(sale)
        if nonce == "fake-timeout-nonce":
            state.release.wait(timeout=10)  # answered after the client gave up
        if declined:
            root = ET.Element("api-error-response")
            errors = _el(root, "errors")
            _el(errors, "errors", type="array")
            _el(root, "message", "Do Not Honor")
            _transaction_xml(root, sale)
            self._reply(422, root)
            return
        self._reply(201, _transaction_xml(None, sale))


class FakeBraintree:
    merchant_id = "fake-merchant"
    public_key = "fake-public-key"
    private_key = "fake-private-key"

    def __init__(self) -> None:
        self.state = FakeBraintreeState()
        self.port = free_port()
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.state.release.set()
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        self.state.release.set()
        new = FakeBraintreeState()
        self.state.__dict__.update(new.__dict__)
