"""The main menu, per role: each app registers what it offers (the pattern of the privacy registry).

The shell knows no app. An app registers, in its ``AppConfig.ready()``:

- **facts** about the person looking (``"child"``, ``"school_student"``, ``"teacher"``...), each a function of the
  request worked out at most once per request and only if an item asks for it;
- **items**: a function of a :class:`Viewer` returning the menu entries that apply to that viewer.

A provider registered with ``takes_over=True`` replaces every other item when it returns any (the parent portal:
a parent signed in there sees the portal's own menu, not "Sign in / Sign up"). "Home" is always first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    """One menu entry. ``kind`` is ``link``, ``button`` (a link styled as the main call to action) or ``post``
    (a small form posting to ``url``: signing out)."""

    key: str
    label: Any
    url: str
    order: int = 50
    kind: str = "link"


class Viewer:
    """The request and lazily computed facts about who is looking."""

    def __init__(self, request: HttpRequest, facts: dict[str, Callable[[HttpRequest], bool]]) -> None:
        self.request = request
        self.user: Any = getattr(request, "user", None)
        self._fact_functions = facts
        self._facts: dict[str, bool] = {}

    @property
    def signed_in(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated)

    def is_(self, fact: str) -> bool:
        """A registered fact about the viewer (False for an unknown fact or an anonymous visitor)."""
        if fact not in self._facts:
            function = self._fact_functions.get(fact)
            self._facts[fact] = bool(function and self.signed_in and function(self.request))
        return self._facts[fact]


ItemsProvider = Callable[[Viewer], Iterable[NavItem]]


class NavigationRegistry:
    def __init__(self) -> None:
        self._facts: dict[str, Callable[[HttpRequest], bool]] = {}
        self._providers: list[tuple[ItemsProvider, bool]] = []

    def fact(self, name: str, function: Callable[[HttpRequest], bool]) -> None:
        if name in self._facts and self._facts[name] is not function:
            raise ValueError(f"a navigation fact named {name!r} is already registered")
        self._facts[name] = function

    def items(self, provider: ItemsProvider, *, takes_over: bool = False) -> None:
        if all(existing is not provider for existing, _takes in self._providers):
            self._providers.append((provider, takes_over))

    def viewer(self, request: HttpRequest) -> Viewer:
        return Viewer(request, self._facts)

    def menu(self, request: HttpRequest) -> list[NavItem]:
        viewer = self.viewer(request)
        home = NavItem("home", _("Home"), reverse("home"), order=0)
        for provider, takes_over in self._providers:
            if takes_over:
                own = list(provider(viewer))
                if own:
                    return [home, *sorted(own, key=lambda item: item.order)]
        found: list[NavItem] = [home]
        for provider, takes_over in self._providers:
            if not takes_over:
                found.extend(provider(viewer))
        return sorted(found, key=lambda item: item.order)


registry = NavigationRegistry()


def main_menu(request: HttpRequest) -> dict[str, Any]:
    """Context processor: ``main_menu``, worked out only when a template renders it."""
    return {"main_menu": SimpleLazyObject(lambda: registry.menu(request))}
