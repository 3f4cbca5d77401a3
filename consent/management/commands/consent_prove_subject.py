from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.ledger import batch_entry_for, proof_verify, subject_proof


class Command(BaseCommand):
    help = (
        "Prove from its batch entry that one pseudonym's event (by default its expiry) is in the consent ledger: "
        "print the proof (JSON) and check it against the entry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("subject", help="the pseudonym (a request's ledger_subject, as in its 'requested' row)")
        parser.add_argument("--kind", default="expired", help="the batch entry's event (default: expired)")

    def handle(self, *args: Any, subject: str, kind: str, **options: Any) -> None:
        entry = batch_entry_for(subject, kind=kind)
        if entry is None:
            raise CommandError(f"No {kind} batch entry of the consent ledger names {subject}.")
        proof = subject_proof(subject, entry)
        self.stdout.write(json.dumps(proof.as_dict(), indent=2))
        if not proof_verify(proof, entry):
            raise CommandError(f"The proof does not verify against ledger row #{entry.seq}.")
        self.stdout.write(
            f"{subject} is one of the {entry.detail['count']} subjects of ledger row #{entry.seq} ({kind}, "
            f"{entry.at.isoformat()}); run consent_verify_ledger to check the chain around it."
        )
