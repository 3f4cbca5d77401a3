"""The kinds of prepared files. An app registers each of its kinds once (in its ``AppConfig.ready``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import PreparedFile

# progress(done, total): the job's progress, shown on the progress page
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Kind:
    name: str
    # build(prepared, handle, progress): write the file into ``handle`` (the worker's temporary file); raise
    # ValidationError with a message for the person when it cannot be built
    build: Callable[[PreparedFile, IO[bytes], Progress], None]
    # allowed(request, prepared): may this request see the file's progress and download it? (else 404)
    allowed: Callable[[HttpRequest, PreparedFile], bool]
    # where the progress page leads back to
    back_url: Callable[[PreparedFile], str]
    title: Any  # what the progress page calls the file (lazy translation)
    # where a visitor who is not signed in is sent from the file's page (the link of the "ready" email): the
    # account sign-in, or the parent portal's for a file a parent asked for there (a URL name)
    sign_in: str = "account_login"
    # signed_in(request): is the visitor signed in the way this kind's owners are? (else the file's page sends
    # them to ``sign_in``; a signed-in visitor who is not allowed gets the 404)
    signed_in: Callable[[HttpRequest], bool] = lambda request: bool(request.user.is_authenticated)


_kinds: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    if kind.name in _kinds and _kinds[kind.name] != kind:
        raise ValueError(f"a prepared-file kind named {kind.name!r} is already registered")
    _kinds[kind.name] = kind


def get(name: str) -> Kind | None:
    return _kinds.get(name)
