"""``manage.py policy_publish VERSION``: publish a privacy policy version (README, "Publishing the next version of
the privacy policy"). The admin's "Publish" action does the same."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy import services
from privacy.models import PolicyVersion


class Command(BaseCommand):
    help = "Publish a privacy policy version: after a material change, parents are asked again and schools told."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("version", help="the version's name, e.g. 2026-11-30")

    def handle(self, *args: Any, **options: Any) -> None:
        version = PolicyVersion.objects.filter(version=options["version"]).first()
        if version is None:
            raise CommandError(f"no privacy policy version named {options['version']!r}")
        if services.policy_publish(version=version):
            self.stdout.write(
                f"{version}: published" + (" (material: parents are being asked)" if version.material else "")
            )
        else:
            self.stdout.write(f"{version}: already published on {version.published_at:%Y-%m-%d %H:%M} UTC")
