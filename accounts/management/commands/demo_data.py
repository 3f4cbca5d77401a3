from typing import Any

from django.core.management.base import BaseCommand

from mindomo.demo import load_all


class Command(BaseCommand):
    help = "Load the demo data of every app (idempotent) and print the demo logins."

    def handle(self, *args: Any, **options: Any) -> None:
        logins = load_all()
        self.stdout.write(self.style.SUCCESS("Demo logins (sign in at /accounts/login/):"))
        width = max(len(login.role) for login in logins)
        for login in logins:
            note = f"  ({login.note})" if login.note else ""
            self.stdout.write(f"  {login.role:<{width}}  {login.login} / {login.password}{note}")
