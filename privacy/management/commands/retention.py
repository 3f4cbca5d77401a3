from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from privacy import services


class Command(BaseCommand):
    help = "Apply every retention rule the apps declare (with --dry-run: list what would be deleted)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only list what would be deleted.")
        parser.add_argument("--rule", action="append", dest="rules", help="Only this rule (repeatable).")

    def handle(self, *args: Any, dry_run: bool = False, rules: list[str] | None = None, **options: Any) -> None:
        outcomes = services.retention_apply(dry_run=dry_run, rules=rules)
        verb = "would delete" if dry_run else "deleted"
        for outcome in outcomes:
            self.stdout.write(f"{outcome.rule.name}: {verb} {outcome.count}")
            if dry_run and outcome.pks and options["verbosity"] > 1:
                self.stdout.write("  ids: " + ", ".join(str(pk) for pk in outcome.pks))
        self.stdout.write(self.style.SUCCESS(f"{sum(o.count for o in outcomes)} rows in all ({verb})."))
