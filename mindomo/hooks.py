"""Extension points: how a lower app lets a higher one take part in its work without importing it.

The apps form layers (README, "Layout"); a module never imports from a higher layer. Where a lower app must
react to a higher one (accounts' sign-up asks consent's age gate; the parent portal checks a card through
billing), the lower app declares a :class:`Hook` in its ``hooks.py`` and the higher app registers its
implementation in its ``AppConfig.ready()``, as every app registers its privacy provider with
``mindomo.privacy``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured

F = TypeVar("F", bound=Callable[..., Any])


class Hook(Generic[F]):
    """A named list of functions with one signature, registered by higher apps."""

    def __init__(self, name: str, *, single: bool = False) -> None:
        self.name = name
        self.single = single  # exactly one implementation (e.g. the card check)
        self._functions: list[F] = []

    def register(self, function: F) -> F:
        """Add ``function`` (idempotent, so a second ``ready()`` in tests registers nothing twice)."""
        if function in self._functions:
            return function
        if self.single and self._functions:
            raise ImproperlyConfigured(f"hook {self.name!r} takes one implementation and already has one")
        self._functions.append(function)
        return function

    def __iter__(self) -> Iterator[F]:
        return iter(list(self._functions))

    def __len__(self) -> int:
        return len(self._functions)

    def implementation(self) -> F:
        """The one registered function of a ``single`` hook."""
        if not self._functions:
            raise ImproperlyConfigured(f"no app registered an implementation of hook {self.name!r}")
        return self._functions[0]
