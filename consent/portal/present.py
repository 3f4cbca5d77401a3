"""What the parent's page shows of each privacy provider's summary, written for a parent.

The page reads every provider's summary (counts, a few newest rows: ``registry.summarise_user``, one query),
never the full export, which stays for the download (the machine-readable zip). Every section that holds
nothing for this child is left out (a child has no purchases, teaches no class), keys become labels, known
codes become words, ISO timestamps become dates in the page's language and time zone, and each section gets a
one-line summary ("3 grades in 1 class").
"""

from __future__ import annotations

import datetime
import html
from dataclasses import dataclass
from typing import Any

from django.core.signals import setting_changed
from django.utils import formats, timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mindomo.privacy import PrivacyProvider, registry

from ..models import AgeOutcome, ConsentMethod, LedgerEntry

# Labels for the keys the providers' exports use (a key not listed reads as its words).
KEY_LABELS: dict[str, Any] = {
    "profile": gettext_lazy("Profile"),
    "username": gettext_lazy("Username"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email address"),
    "country": gettext_lazy("Country"),
    "product_updates": gettext_lazy("Product-update emails"),
    "date_joined": gettext_lazy("Account created"),
    "last_login": gettext_lazy("Last sign-in"),
    "email_addresses": gettext_lazy("Email addresses"),
    "connected_services": gettext_lazy("Connected services"),
    "school_registration": gettext_lazy("Registered by a school"),
    "school": gettext_lazy("School"),
    "registered_at": gettext_lazy("Registered on"),
    "classes": gettext_lazy("Classes"),
    "class": gettext_lazy("Class"),
    "student_number": gettext_lazy("Number in the class"),
    "grades": gettext_lazy("Grades"),
    "assignment": gettext_lazy("Assignment"),
    "due_date": gettext_lazy("Due"),
    "score": gettext_lazy("Score"),
    "max_score": gettext_lazy("Out of"),
    "feedback": gettext_lazy("Teacher's feedback"),
    "graded_at": gettext_lazy("Graded on"),
    "method": gettext_lazy("How consent was given"),
    "granted_at": gettext_lazy("Consent given on"),
    "policy_version": gettext_lazy("Privacy policy version"),
    "parent_email": gettext_lazy("Parent's email address"),
    "verified": gettext_lazy("Confirmed"),
    "primary": gettext_lazy("Main address"),
    "provider": gettext_lazy("Service"),
    "received_at": gettext_lazy("Received on"),
    "inquiries": gettext_lazy("Messages to support"),
    "sessions": gettext_lazy("Sign-in sessions"),
    "age_decision": gettext_lazy("The age check's answer"),
    "outcome": gettext_lazy("Result"),
    "rule": gettext_lazy("Rule applied"),
    "rule_version": gettext_lazy("Version of the rule"),
    "consent_month": gettext_lazy("Can consent alone from"),
    "decided_at": gettext_lazy("Checked on"),
    "consent": gettext_lazy("Your consent"),
    "consent_ledger": gettext_lazy("Consent history"),
    "disclosures": gettext_lazy("Sharing you agreed to"),
    "note": gettext_lazy("Note"),
    "at": gettext_lazy("When"),
    "event": gettext_lazy("What happened"),
    "guardians": gettext_lazy("Parents and guardians"),
    "to": gettext_lazy("Shared with"),
    # the keys of the providers' summaries (mindomo.privacy: related fields as "relation__field")
    "latest_grades": gettext_lazy("Latest grades"),
    "school__name": gettext_lazy("School"),
    "created_at": gettext_lazy("Registered on"),
    "rule_jurisdiction": gettext_lazy("Rule applied"),
    "rule__version": gettext_lazy("Version of the rule"),
    "assignment__title": gettext_lazy("Assignment"),
    "assignment__school_class__name": gettext_lazy("Class"),
    "assignment__max_score": gettext_lazy("Out of"),
}

# Words for codes that appear as values.
CODE_LABELS: dict[str, Any] = {
    **dict(LedgerEntry.Kind.choices),
    **dict(AgeOutcome.choices),
    ConsentMethod.EMAIL_PLUS.value: gettext_lazy("by email, from you"),
    ConsentMethod.SCHOOL.value: gettext_lazy("by the school, for school use only"),
}

# Rows shown in a section's body but not counted in its summary line (the count is another key).
_SHOWN_ONLY = {"latest_grades"}

# One-line summaries for the lists a parent cares about; other lists read "Label: n".
_COUNTED = {
    "grades": lambda n: ngettext("%(n)d grade", "%(n)d grades", n) % {"n": n},
    "classes": lambda n: ngettext("%(n)d class", "%(n)d classes", n) % {"n": n},
    "email_addresses": lambda n: ngettext("%(n)d email address", "%(n)d email addresses", n) % {"n": n},
    "connected_services": lambda n: ngettext("%(n)d connected service", "%(n)d connected services", n) % {"n": n},
    "inquiries": lambda n: ngettext("%(n)d message to support", "%(n)d messages to support", n) % {"n": n},
    "consent_ledger": lambda n: ngettext("%(n)d consent event", "%(n)d consent events", n) % {"n": n},
    "disclosures": lambda n: ngettext("%(n)d sharing agreed", "%(n)d sharings agreed", n) % {"n": n},
}


@dataclass(frozen=True)
class Section:
    name: str
    label: str
    summary: str
    html: SafeString
    small_print: SafeString  # the provider's declarations: what for, and for how long (declarations_line)


def label_for(key: str) -> str:
    return str(KEY_LABELS.get(key, key.replace("_", " ").capitalize()))


def _is_empty(value: Any) -> bool:
    if value in (None, "", [], {}):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return value == 0  # a count of nothing
    if isinstance(value, dict):
        return all(_is_empty(v) for v in value.values())
    return False


def _as_datetime(value: str) -> datetime.datetime | datetime.date | None:
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        return None
    try:
        if len(value) == 10:
            return datetime.date.fromisoformat(value)
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return timezone.localtime(parsed) if timezone.is_aware(parsed) else parsed


def human_value(value: Any) -> str:
    """A scalar as a parent reads it: dates in the page's language and time zone, codes as words."""
    if value is None:
        return _("none")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    text = str(value)
    when = _as_datetime(text)
    if isinstance(when, datetime.datetime):
        return formats.date_format(when, "DATETIME_FORMAT")
    if isinstance(when, datetime.date):
        return formats.date_format(when, "DATE_FORMAT")
    return str(CODE_LABELS.get(text, text))


def render(value: Any) -> SafeString:
    """Nested HTML for a provider's export, every string escaped, empty parts left out."""
    parts: list[str] = []
    _render_into(parts, value)
    return mark_safe("".join(parts))  # noqa: S308 -- every label and value is escaped by _render_into


def _render_into(parts: list[str], value: Any) -> None:
    """``render``'s HTML appended to ``parts`` (one join for the whole tree instead of one per level)."""
    if isinstance(value, dict):
        parts.append('<dl class="facts">')
        for key, item in value.items():
            if not _is_empty(item):
                parts += ("<dt>", html.escape(label_for(key)), "</dt><dd>")
                _render_into(parts, item)
                parts.append("</dd>")
        parts.append("</dl>")
    elif isinstance(value, list):
        parts.append('<ul class="data-list">')
        for item in value:
            if not _is_empty(item):
                parts.append("<li>")
                _render_into(parts, item)
                parts.append("</li>")
        parts.append("</ul>")
    else:
        parts.append(html.escape(human_value(value)))


# The declarations' line of each provider, per language: the same text on every page (declarations_line).
_declarations_lines: dict[tuple[str, str | None], SafeString] = {}


def declarations_line(provider: PrivacyProvider) -> SafeString:
    """What the provider's data is for and how long it is kept, each declaration as "purpose (retention)",
    separated by " · ": drawn once per process and language (declarations are code; their texts depend on the
    language and on settings only, and a changed setting in tests forgets them)."""
    key = (provider.name, translation.get_language())
    line = _declarations_lines.get(key)
    if line is None:
        line = format_html_join(" · ", "{} ({})", ((d.purpose, d.retention) for d in provider.declarations()))
        _declarations_lines[key] = line
    return line


def _forget_declarations_lines(**kwargs: Any) -> None:
    _declarations_lines.clear()


setting_changed.connect(_forget_declarations_lines)


def summary_line(data: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, value in data.items():
        if _is_empty(value):
            continue
        if key in _SHOWN_ONLY:
            continue
        if isinstance(value, list) or (isinstance(value, int) and not isinstance(value, bool)):
            n = len(value) if isinstance(value, list) else value
            count = _COUNTED.get(key)
            parts.append(count(n) if count else f"{label_for(key)}: {n}")
        elif isinstance(value, dict):
            parts.append(label_for(key))
        elif key == "note":
            parts.append(str(value))
    if "grades" in data and "classes" in data and data["grades"] and data["classes"]:
        classes = _size(data["classes"])
        grades = _size(data["grades"])
        parts = [
            ngettext("%(n)d grade", "%(n)d grades", grades) % {"n": grades}
            + " "
            + ngettext("in %(n)d class", "in %(n)d classes", classes) % {"n": classes}
        ] + [p for p in parts if p not in (_COUNTED["grades"](grades), _COUNTED["classes"](classes))]
    return ", ".join(parts)


@dataclass(frozen=True)
class LedgerLine:
    at: datetime.datetime | None
    kind: str
    kind_label: str


def ledger_lines(rows: list[dict[str, Any]]) -> list[LedgerLine]:
    """The consent history's rows (``at``, ``kind`` as read by mindomo.privacy.read_items) as the page shows them."""
    labels = dict(LedgerEntry.Kind.choices)
    return [
        LedgerLine(at=parse_datetime(row["at"]), kind=row["kind"], kind_label=str(labels.get(row["kind"], row["kind"])))
        for row in rows
    ]


def _size(value: Any) -> int:
    return len(value) if isinstance(value, list) else int(value)


def sections_for(data: dict[str, dict[str, Any]]) -> list[Section]:
    """Each provider's summary of the child's data (``registry.summarise_user``), for the providers holding
    something, in the registry's order."""
    found = []
    for provider in registry.providers():
        exported = data.get(provider.name) or {}
        if _is_empty(exported):
            continue
        found.append(
            Section(
                name=provider.name,
                label=str(provider.label),
                summary=summary_line(exported) if isinstance(exported, dict) else "",
                html=render(exported),
                small_print=declarations_line(provider),
            )
        )
    return found
