"""Print the current authenticator code of a staff demo login (the demo's second factor; not a bypass)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from privacy.demo import STAFF_DEMO_LOGINS, demo_totp_secret


class Command(BaseCommand):
    help = "Print the current TOTP code of a staff demo login (admin, support, privacy, clerk); DEBUG only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("login", choices=STAFF_DEMO_LOGINS)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_totp only runs with DJANGO_DEBUG=true (the demo of `make run`).")
        from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

        user = User.objects.filter(username=options["login"]).first()
        if user is None:
            raise CommandError("No such demo login: run `python manage.py demo_data` first.")
        import time

        counter = int(time.time()) // 30
        self.stdout.write(format_hotp_value(hotp_value(demo_totp_secret(user), counter)))
        self.stderr.write(f"valid for {30 - int(time.time()) % 30} more seconds")
