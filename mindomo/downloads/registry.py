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


_kinds: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    if kind.name in _kinds and _kinds[kind.name] != kind:
        raise ValueError(f"a prepared-file kind named {kind.name!r} is already registered")
    _kinds[kind.name] = kind


def get(name: str) -> Kind | None:
    return _kinds.get(name)
