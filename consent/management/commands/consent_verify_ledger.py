from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from consent.ledger import checkpoint_create, verify_chain


class Command(BaseCommand):
    help = (
        "Verify the consent ledger: each hash chain on its own and every signed checkpoint of their heads; "
        "name the first broken row (exit status 1 if any)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chain", type=int, help="verify this chain only (checkpoints are then not checked)")
        parser.add_argument(
            "--checkpoint", action="store_true", help="after verifying, sign a checkpoint of every chain's head"
        )

    def handle(self, *args: Any, chain: int | None, checkpoint: bool, **options: Any) -> None:
        report = verify_chain(chain=chain)
        if not report.ok:
            raise CommandError(
                f"The consent ledger is broken at row #{report.broken_at}: {report.reason} "
                f"({report.checked} rows before it verified)."
            )
        self.stdout.write(
            f"The consent ledger verifies: {report.checked} rows, chain intact "
            f"({report.chains} chains, {report.checkpoints} signed checkpoints matched)."
        )
        if checkpoint:
            made = checkpoint_create()
            self.stdout.write(f"Signed checkpoint {made.pk}: the heads of {len(made.heads)} chains.")
