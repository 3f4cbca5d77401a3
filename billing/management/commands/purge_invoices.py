from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from billing import services


class Command(BaseCommand):
    help = "Delete invoices whose retention ended (INVOICE_RETENTION_YEARS after the end of their tax year)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="List the invoices that would be deleted.")
        parser.add_argument("--batch-size", type=int, default=services.BATCH_SIZE)

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        result = services.invoices_purge(dry_run=dry_run, batch_size=batch_size)
        if dry_run:
            for number in result.numbers:
                self.stdout.write(number)
            self.stdout.write(
                f"{len(result.numbers)} invoice(s) of tax years before {result.cutoff_year} would be deleted."
            )
        else:
            self.stdout.write(f"{result.deleted} invoice(s) of tax years before {result.cutoff_year} deleted.")
