"""The data export archive: one JSON file per privacy provider and a readable HTML index."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.template.loader import render_to_string
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from mindomo.privacy import PrivacyProvider

from .models import User


def _html(value: Any) -> SafeString:
    """A JSON value as nested HTML lists, every string escaped."""
    if isinstance(value, dict):
        if not value:
            return format_html("<em>{}</em>", gettext("nothing"))
        items = format_html_join("", "<dt>{}</dt><dd>{}</dd>", ((key, _html(item)) for key, item in value.items()))
        return format_html("<dl>{}</dl>", items)
    if isinstance(value, list):
        if not value:
            return format_html("<em>{}</em>", gettext("nothing"))
        return format_html("<ol>{}</ol>", format_html_join("", "<li>{}</li>", ((_html(item),) for item in value)))
    if value is None:
        return format_html("<em>{}</em>", gettext("none"))
    if isinstance(value, bool):
        return mark_safe(gettext("yes") if value else gettext("no"))  # noqa: S308 (translated constant)
    return format_html("{}", value)


def write_archive(
    path: Path | IO[bytes],
    *,
    user: User,
    documents: Sequence[tuple[PrivacyProvider, dict[str, Any]]],
    generated_at: datetime,
) -> None:
    sections = [
        {"name": provider.name, "label": provider.label, "file": f"{provider.name}.json", "html": _html(document)}
        for provider, document in documents
    ]
    index = render_to_string(
        "accounts/export_index.html", {"sections": sections, "generated_at": generated_at, "subject": user}
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("index.html", index)
        for provider, document in documents:
            archive.writestr(
                f"{provider.name}.json", json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True, default=str)
            )
