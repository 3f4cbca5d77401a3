from __future__ import annotations

import csv
import io
from collections import Counter

from django.db.models import QuerySet

from .models import AccessLog, DisclosureRequest


def access_log_for_subject(*, subject_id: int) -> QuerySet[AccessLog]:
    """Staff accesses to one person's data, newest first (privacy officers; the parent portal for a child)."""
    return AccessLog.objects.filter(subject_id=subject_id).order_by("-at", "-pk")


def access_log_latest(*, subject_id: int, limit: int) -> list[AccessLog]:
    """The newest ``limit`` staff accesses to one person's data (the parent portal shows a child's)."""
    return list(access_log_for_subject(subject_id=subject_id)[:limit])


def half_year(date: object) -> str:
    return f"{date.year}-H{1 if date.month <= 6 else 2}"  # type: ignore[attr-defined]


def transparency_report_csv(requests: QuerySet[DisclosureRequest] | None = None) -> str:
    """Counts of authorities' requests per half year, by type and outcome, with the users concerned."""
    requests = requests if requests is not None else DisclosureRequest.objects.all()
    counts: Counter[tuple[str, str, str]] = Counter()
    users: Counter[tuple[str, str, str]] = Counter()
    for request in requests.only("received_on", "kind", "outcome").prefetch_related("subjects"):
        key = (half_year(request.received_on), request.kind, request.outcome)
        counts[key] += 1
        users[key] += len(request.subjects.all())
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["period", "type", "outcome", "requests", "users_concerned"])
    for key in sorted(counts):
        writer.writerow([*key, counts[key], users[key]])
    return out.getvalue()
