from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.receipts import receipt_verify


class Command(BaseCommand):
    help = "Verify the server's signature on a consent receipt (a JSON file, or - for standard input)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("receipt", help="path of the receipt's JSON file, or - to read standard input")
        parser.add_argument("--public-key", default=None, help="base64 Ed25519 public key (default: this server's)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["receipt"]
        try:
            raw = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
            document = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the receipt: {exc}") from exc
        if not receipt_verify(document, public_key=options["public_key"]):
            raise CommandError("The receipt's signature does NOT verify: it was changed or not signed by us.")
        self.stdout.write(f"The receipt {document.get('consentReceiptID', '')} verifies: signed by this server.")
