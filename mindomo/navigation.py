"""The main menu, per role: each app registers what it offers (the pattern of the privacy registry).

The shell knows no app. An app registers, in its ``AppConfig.ready()``:

- **facts** about the person looking (``"child"``, ``"school_student"``, ``"teacher"``...), each a function of the
  request worked out at most once per request and only if an item asks for it;
- **items**: a function of a :class:`Viewer` returning the menu entries that apply to that viewer.

A provider registered with ``takes_over=True`` replaces every other item when it returns any (the parent portal:
a parent signed in there sees the portal's own menu, not "Sign in / Sign up"). "Home" is always first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
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


SESSION_KEY = "navigation.facts"


class Viewer:
    """The request and the facts about who is looking. A signed-in person's facts are worked out together at
    sign-in (and again after NAVIGATION_RECHECK_SECONDS) and kept in the session, so a page costs no query
    for its menu."""

    def __init__(self, request: HttpRequest, facts: dict[str, Callable[[HttpRequest], bool]]) -> None:
        self.request = request
        self.user: Any = getattr(request, "user", None)
        self._fact_functions = facts
        self._facts: dict[str, bool] | None = None

    @property
    def signed_in(self) -> bool:
        return bool(self.user is not None and self.user.is_authenticated)

    def remember(self) -> dict[str, bool]:
        """Work every registered fact out now and keep them in the session."""
        facts = {name: bool(function(self.request)) for name, function in self._fact_functions.items()}
        session = getattr(self.request, "session", None)
        if session is not None:
            until = time.time() + settings.NAVIGATION_RECHECK_SECONDS
            session[SESSION_KEY] = {"user": self.user.pk, "until": until, "facts": facts}
        self._facts = facts
        return facts

    def _known(self) -> dict[str, bool]:
        if self._facts is None:
            session = getattr(self.request, "session", None)
            stored = session.get(SESSION_KEY) if session is not None else None
            if (
                isinstance(stored, dict)
                and stored.get("user") == self.user.pk
                and float(stored.get("until", 0)) > time.time()
                and set(stored.get("facts", {})) == set(self._fact_functions)
            ):
                self._facts = dict(stored["facts"])
            else:
                self.remember()
        assert self._facts is not None
        return self._facts

    def is_(self, fact: str) -> bool:
        """A registered fact about the viewer (False for an unknown fact or an anonymous visitor)."""
        if not self.signed_in:
            return False
        return bool(self._known().get(fact, False))


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


def remember_on_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: the facts are worked out once, at sign-in."""
    if request is None or getattr(request, "session", None) is None:
        return
    if getattr(request, "user", None) is None:  # login() sets it only on requests that had one
        request.user = user
    registry.viewer(request).remember()


def main_menu(request: HttpRequest) -> dict[str, Any]:
    """Context processor: ``main_menu``, worked out only when a template renders it."""
    return {"main_menu": SimpleLazyObject(lambda: registry.menu(request))}
