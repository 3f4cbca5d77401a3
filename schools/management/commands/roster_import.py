"""Import a school's OneRoster zip from the command line: the same preview and import as the school's page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from schools import roster
from schools.models import RosterImport, School, SchoolMembership


class Command(BaseCommand):
    help = "Preview and import a OneRoster 1.1/1.2 CSV zip into a school (the same service as the roster page)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("zip", help="Path of the OneRoster CSV bulk zip")
        parser.add_argument("--school", type=int, required=True, help="The school's id")
        parser.add_argument("--as", dest="admin", default="", help="Username of the school administrator it runs as")
        parser.add_argument("--preview", action="store_true", help="Show what would change, write nothing")
        parser.add_argument(
            "--confirm-erase", action="store_true", help="Delete the school-registered accounts the preview lists"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        school = School.objects.filter(pk=options["school"]).first()
        if school is None:
            raise CommandError(f"No school with id {options['school']}.")
        admins = User.objects.filter(
            school_memberships__school=school, school_memberships__role=SchoolMembership.Role.ADMIN
        ).order_by("pk")
        admin = admins.filter(username__iexact=options["admin"]).first() if options["admin"] else admins.first()
        if admin is None:
            raise CommandError("The import runs as one of the school's administrators; none matches.")
        path = Path(options["zip"])
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        with path.open("rb") as handle:
            chunks = iter(lambda: handle.read(64 * 1024), b"")
            roster_import = roster.roster_preview(actor=admin, school=school, upload=chunks, size=path.stat().st_size)
        summary = roster_import.summary
        if roster_import.state == RosterImport.State.REFUSED:
            for problem in summary["problems"]:
                self.stderr.write(problem)
            raise CommandError("The file was refused; nothing was written.")
        for key in ("add", "change", "remove"):
            self.stdout.write(f"{key}: {len(summary[key])}")
            for kind, label in summary[key]:
                self.stdout.write(f"  {kind}: {label}")
        for note in summary["notes"]:
            self.stdout.write(f"note: {note}")
        if summary["erase"]:
            self.stdout.write(f"accounts to delete: {len(summary['erase'])}")
            for name in summary["erase"]:
                self.stdout.write(f"  {name}")
        if options["preview"]:
            roster.roster_import_cancel(actor=admin, roster_import=roster_import)
            self.stdout.write("Preview only: nothing was written.")
            return
        try:
            roster.roster_import_start(
                actor=admin, roster_import=roster_import, confirm_erase=options["confirm_erase"], queue=False
            )
        except ValidationError as exc:
            roster.roster_import_cancel(actor=admin, roster_import=roster_import)
            raise CommandError(" ".join(exc.messages) + " (--confirm-erase)") from exc
        result = roster.roster_import_run(import_id=roster_import.pk)
        if result.state != RosterImport.State.DONE:
            raise CommandError(result.error or result.state)
        self.stdout.write(self.style.SUCCESS(f"Imported (import {result.pk})."))
