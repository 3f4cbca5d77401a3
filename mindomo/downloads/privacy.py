"""Prepared files in the privacy registry: the files themselves are short-lived copies of data declared
elsewhere (login cards, a child's data); the rows say what was asked and when."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower, Trim
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from mindomo import privacy

from . import services
from .models import PreparedFile

User = Any  # accounts.User (mindomo is the bottom layer)


def _of(user: User) -> QuerySet[PreparedFile]:
    mine = Q(user_id=user.pk) | Q(subject_id=user.pk)
    if user.email:
        # normalised in SQL (the address a parameter as stored: the summary is compiled once per process)
        mine |= Q(owner_email=Lower(Trim(Value(user.email))))
    return PreparedFile.objects.filter(mine)


@privacy.register
class DownloadsPrivacyProvider(privacy.PrivacyProvider):
    name = "downloads"
    label = _("Files prepared for you")
    legal_basis = _(
        "Legal obligation (GDPR Art. 6(1)(c)) for the copies people ask of their data (Art. 15 and 20); contract "
        "(Art. 6(1)(b)) for the reports and invoices they download."
    )
    data_subjects = _("Account holders, and the students named in their teachers' reports.")

    def declarations(self) -> list[privacy.DataCategory]:
        return [
            privacy.DataCategory(
                model="downloads.PreparedFile",
                fields=("kind", "user", "owner_email", "subject", "params", "file_name", "created_at"),
                purpose=_("Prepare a file you asked for (login cards, a copy of data) and let only you download it."),
                retention=ngettext_lazy(
                    "The file and its record are deleted %(hours)d hour after it is ready.",
                    "The file and its record are deleted %(hours)d hours after it is ready.",
                    "hours",
                )
                % {"hours": settings.PREPARED_FILE_TTL_HOURS},
            )
        ]

    def export(self, user: User) -> dict[str, Any]:
        return {
            "prepared_files": [
                {"kind": p.kind, "state": p.state, "asked_at": p.created_at.isoformat(), "file": p.download_name}
                for p in _of(user).order_by("pk")
            ]
        }

    def summary(self, user: User) -> dict[str, Any]:
        return {"prepared_files": privacy.Count(_of(user))}

    def erase_statements(self, user: User) -> list[privacy.ErasePart]:
        return [services.prepared_files_erase_statement(user=user)]

    def retention_rules(self) -> list[privacy.RetentionRule]:
        return [
            privacy.RetentionRule(
                name="downloads.files",
                description=_("Files prepared for you (login cards, copies of data)"),
                period=ngettext_lazy(
                    "deleted %(hours)d hour after they are ready",
                    "deleted %(hours)d hours after they are ready",
                    "hours",
                )
                % {"hours": settings.PREPARED_FILE_TTL_HOURS},
                expired=services.prepared_files_expired,
                purge=services.prepared_files_purge,
            )
        ]
