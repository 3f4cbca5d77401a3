from __future__ import annotations

import csv
import io
import time
from collections import Counter
from typing import Any

from django.db.models import QuerySet

from accounts.selectors import user_is_child_or_school_account

from .models import AccessLog, DisclosureRequest
from .roles import ROLES

ROLE_CHECK_KEY = "staff_role_check"
ROLE_RECHECK_SECONDS = 60


def user_has_staff_role(user: Any) -> bool:
    """Member of any privacy role's group (Support, Billing clerk, Privacy officer)."""
    return bool(user.groups.filter(name__in=[role.group for role in ROLES]).exists())


def is_staff_account(user: Any, *, session: Any = None) -> bool:
    """Staff for the security rules: is_staff, a superuser, or a member of any privacy role.

    The role membership of an account without the staff flag is rechecked at most once a minute per session
    (``session``), so an ordinary member's page costs no query for it."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff or user.is_superuser:
        return True
    if session is None:
        return user_has_staff_role(user)
    now = int(time.time())
    cached = session.get(ROLE_CHECK_KEY)
    if isinstance(cached, list) and len(cached) == 3 and cached[0] == user.pk:
        if now - cached[1] < ROLE_RECHECK_SECONDS:
            return bool(cached[2])
    result = user_has_staff_role(user)
    session[ROLE_CHECK_KEY] = [user.pk, now, result]
    return result


def mfa_fingerprint(user: Any) -> str:
    """The account's authenticators (which and since when): "" when it has none. Changes when one is added,
    removed or regenerated."""
    from allauth.mfa.models import Authenticator

    rows = Authenticator.objects.filter(user_id=user.pk).order_by("pk").values_list("pk", "type", "created_at")
    return ";".join(f"{pk}:{kind}:{created.timestamp() if created else ''}" for pk, kind, created in rows)


def mfa_offered(user: Any) -> bool:
    """Adults may turn on two-factor authentication; children and school-registered accounts are not offered it."""
    return not user_is_child_or_school_account(user)


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


def access_log_search(queryset: QuerySet[AccessLog], *, term: str) -> QuerySet[AccessLog]:
    """Entries about a person, or by a staff member, found by username or email (any case), or by a user id."""
    from django.db.models import Q

    from accounts.models import User

    term = term.strip()
    people = User.objects.filter(Q(username__iexact=term) | Q(email__iexact=term)).values_list("pk", flat=True)
    ids = list(people)
    condition = Q(subject_id__in=ids) | Q(staff_id__in=ids) | Q(staff_label__iexact=term)
    if term.isdigit():
        condition |= Q(subject_id=int(term))
    return queryset.filter(condition)


def access_log_csv_rows(queryset: QuerySet[AccessLog]) -> Any:
    """CSV lines (header first) of the entries, streamed in chunks."""

    class _Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(_Echo())
    yield writer.writerow(["at", "staff_member", "staff_id", "action", "record_type", "record_id", "subject_id"])
    for entry in queryset.order_by("-at", "-pk").iterator(chunk_size=2000):
        yield writer.writerow(
            [
                entry.at.isoformat(),
                entry.staff_label,
                entry.staff_id or "",
                entry.action,
                entry.model,
                entry.object_id,
                entry.subject_id or "",
            ]
        )
