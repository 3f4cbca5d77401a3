"""Demo data: each app may have a ``demo.py`` with ``load() -> list[DemoLogin]``; ``manage.py demo_data``
runs them in INSTALLED_APPS order and prints the logins. Every loader must be idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec

from django.apps import apps

DEMO_PASSWORD = "demo-pass-2026"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    login: str
    password: str
    note: str = ""


def load_all() -> list[DemoLogin]:
    logins: list[DemoLogin] = []
    for config in apps.get_app_configs():
        module_name = f"{config.name}.demo"
        if config.name.startswith("django") or config.name.startswith("allauth"):
            continue
        if find_spec(module_name) is None:
            continue
        logins.extend(import_module(module_name).load())
    return logins
