"""A real SMTP server (aiosmtpd) that keeps what it receives, for email journeys."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SinkHandler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._changed = threading.Condition()
        # An SMTP answer to every RCPT TO (e.g. "550 5.1.1 No such user"), or None to accept.
        self.reject_recipients_with: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.reject_recipients_with:
            return self.reject_recipients_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def down(self) -> None:
        """The mail server goes away: connections to its port are refused."""
        self.controller.stop()
        for _attempt in range(40):  # the listening socket closes with the controller's loop: wait for it
            with socket.socket() as probe:
                probe.settimeout(0.2)
                if probe.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            threading.Event().wait(0.05)
        raise AssertionError(f"the SMTP sink still accepts connections on port {self.port}")

    def up(self) -> None:
        """The mail server comes back on the same port (a controller cannot restart, so a new one)."""
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def reject(self, answer: str | None) -> None:
        """Answer every recipient with ``answer`` (a 4xx or 5xx line), or accept again with None."""
        self.handler.reject_recipients_with = answer

    def clear(self) -> None:
        with self.handler._changed:
            self.handler.messages.clear()
        self.handler.reject_recipients_with = None

    def received(self, *, to: str) -> list[EmailMessage]:
        """Every message received so far for ``to``."""
        with self.handler._changed:
            return [m for m in self.handler.messages if to.lower() in str(m["To"]).lower()]

    def wait_for(self, *, to: str, subject_contains: str = "", timeout: float = 15.0) -> EmailMessage:
        """The first message to ``to`` (with the subject fragment), waiting for it to arrive."""

        def find() -> EmailMessage | None:
            for message in self.handler.messages:
                if to.lower() in str(message["To"]).lower() and subject_contains in str(message["Subject"]):
                    return message
            return None

        with self.handler._changed:
            found = self.handler._changed.wait_for(find, timeout=timeout)
        if not found:
            seen = [(m["To"], m["Subject"]) for m in self.handler.messages]
            raise AssertionError(f"no email to {to!r} with {subject_contains!r} within {timeout}s; got {seen}")
        return found


def body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None, "the email has no plain-text part"
    return str(part.get_content())


def first_link(text: str, contains: str) -> str:
    for url in re.findall(r"https?://[^\s<>\"]+", text):
        if contains in url:
            return url
    raise AssertionError(f"no link containing {contains!r} in:\n{text}")
