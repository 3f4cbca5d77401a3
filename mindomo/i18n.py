"""Languages: which one a person reads, and rendering in it.

Every email is rendered in its recipient's language: a signed-in person's stored choice (``User.language``),
a parent's consent request in the language the child used (kept on the pending sign-up), a portal sign-in
link in the language the parent used when asking for it. Code that sends mail picks the language with
``language_for`` (or a stored code) and renders inside ``override(language)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext_noop


def supported(code: str | None) -> str | None:
    """The supported language code for ``code`` ("de-AT" -> "de"), or None when it is not one of ours."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def current_language() -> str:
    """The language being rendered now (of the request, or of an ``override``), always a supported code."""
    return supported(translation.get_language()) or settings.LANGUAGE_CODE


def language_for(user: Any, fallback: str | None = None) -> str:
    """The language to write to ``user`` in: their stored choice, else ``fallback``, else the default."""
    stored = supported(getattr(user, "language", "") or "")
    return stored or supported(fallback) or settings.LANGUAGE_CODE


@contextmanager
def override(language: str | None) -> Iterator[str]:
    """Render (templates, gettext, formats) in ``language``; an unknown or empty code means the default."""
    code = supported(language) or settings.LANGUAGE_CODE
    with translation.override(code):
        yield code


def babel_locale(language: str | None = None) -> str:
    """The Babel locale name of ``language`` (default: the current one), e.g. "de", "pt_BR"."""
    return translation.to_locale(supported(language) or current_language())


# The month names Django's date formats write ("F": 25 May 2018), in our catalogues so that each language writes
# them as it should: Romanian months take no capital ("25 mai 2018"), where Django's own Romanian catalogue has
# "Mai". Our catalogues come first (settings.LOCALE_PATHS); the other languages keep Django's spelling.
MONTH_NAMES = (
    gettext_noop("January"),
    gettext_noop("February"),
    gettext_noop("March"),
    gettext_noop("April"),
    gettext_noop("May"),
    gettext_noop("June"),
    gettext_noop("July"),
    gettext_noop("August"),
    gettext_noop("September"),
    gettext_noop("October"),
    gettext_noop("November"),
    gettext_noop("December"),
)
