from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from consent import services


class Command(BaseCommand):
    help = (
        "Delete every pending child sign-up past CONSENT_REQUEST_TTL, parent email included "
        "(the same service Celery beat runs). Safe to run at any time, also twice at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=services.BATCH_SIZE)
        parser.add_argument("--remind", action="store_true", help="Also queue the half-TTL reminders that are due.")

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = services.pending_signups_expire(batch_size=options["batch_size"])
        self.stdout.write(f"Deleted {deleted} expired pending sign-up(s).")
        if options["remind"]:
            queued = services.pending_signups_remind(batch_size=options["batch_size"])
            self.stdout.write(f"Queued {queued} reminder(s).")
