"""The privacy desk's reads: finding a person, everything about them on one page, the case queue and the
consent funnel. Each section of the person page is shown only to a role whose permissions cover it."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, TruncWeek
from django.utils import timezone

from accounts.models import AccountDeletionRequest, DataExport, User
from billing.models import Invoice
from consent import ledger
from consent.models import AgeDecision, ConsentRecord, Guardian, LedgerEntry, PendingSignup
from grading.models import Grade
from schools.models import SchoolMembership

from .models import AccessLog, DataRequestCase

SEARCH_LIMIT = 50
DUE_SOON_DAYS = 7


def person_search(*, query: str) -> QuerySet[User]:
    """Accounts matching a username, an email (the account's or a parent's/guardian's on a consent record)
    or a name. Case-insensitive; at most SEARCH_LIMIT."""
    query = query.strip()
    if not query:
        return User.objects.none()
    condition = (
        Q(username__iexact=query)
        | Q(email__iexact=query)
        | Q(username__icontains=query)
        | Q(email__icontains=query)
        | Q(consent_record__parent_email__iexact=query)
        | Q(consent_record__guardians__email__iexact=query)
    )
    parts = query.split()
    if len(parts) >= 2:
        condition |= Q(first_name__iexact=parts[0], last_name__iexact=" ".join(parts[1:]))
    condition |= Q(first_name__iexact=query) | Q(last_name__iexact=query)
    ids = User.objects.filter(condition).values("pk").distinct()
    return User.objects.filter(pk__in=ids).order_by("username")[:SEARCH_LIMIT]


@dataclass
class PersonPage:
    person: User
    sections: set[str] = field(default_factory=set)
    data: dict[str, Any] = field(default_factory=dict)


def person_sections(viewer: Any) -> set[str]:
    """Which parts of a person's page the viewer's role may see (least privilege)."""
    sections = set()
    if viewer.has_perm("accounts.view_user"):
        sections.add("account")
    if viewer.has_perm("consent.view_consentrecord"):
        sections |= {"consent", "cases", "dsr"}
    if viewer.has_perm("schools.view_schoolmembership") or viewer.has_perm("consent.view_consentrecord"):
        sections.add("schools")
    if viewer.has_perm("billing.view_invoice") or viewer.has_perm("consent.view_consentrecord"):
        sections.add("invoices")
    if viewer.has_perm("grading.view_grade"):
        sections.add("grades")
    if viewer.has_perm("privacy.view_accesslog"):
        sections.add("access_log")
    return sections


def person_page(*, person: User, viewer: Any) -> PersonPage:
    page = PersonPage(person=person, sections=person_sections(viewer))
    data = page.data
    if "account" in page.sections:
        data["emails"] = list(EmailAddress.objects.filter(user=person).order_by("-primary", "email"))
    if "consent" in page.sections:
        data["age_decision"] = AgeDecision.objects.filter(user=person).select_related("rule").first()
        record = ConsentRecord.objects.filter(child=person).select_related("school", "control").first()
        data["consent_record"] = record
        data["guardians"] = list(Guardian.objects.filter(record=record).order_by("pk")) if record else []
        data["control"] = getattr(record, "control", None) if record else None

        pseudonym = ledger.child_pseudonym(person.pk) if record else None
        data["ledger"] = list(ledger.entries_for_subject(pseudonym)) if pseudonym else []
    if "dsr" in page.sections:
        data["exports"] = list(DataExport.objects.filter(user=person).order_by("-requested_at"))
        data["deletions"] = list(
            AccountDeletionRequest.objects.filter(user=person).prefetch_related("steps").order_by("-pk")
        )
        data["cases"] = list(DataRequestCase.objects.filter(subject_id_kept=person.pk).order_by("-opened_at"))
    if "schools" in page.sections:
        data["memberships"] = list(
            SchoolMembership.objects.filter(user=person).select_related("school").order_by("school__name")
        )
    if "invoices" in page.sections:
        data["invoices"] = list(Invoice.objects.filter(user=person).order_by("-pk").only("pk", "number", "issued_at"))
    if "grades" in page.sections:
        data["grade_count"] = Grade.objects.filter(student=person).count()
    if "access_log" in page.sections:
        data["accesses"] = list(AccessLog.objects.filter(subject_id=person.pk).order_by("-at", "-pk")[:100])
    return page


# --- the case queue -------------------------------------------------------------------------------------
def cases_by_urgency(queryset: QuerySet[DataRequestCase], *, today: datetime.date | None = None) -> QuerySet[Any]:
    """Overdue first, then due within DUE_SOON_DAYS, then the other open ones, then closed; by due date."""
    today = today or timezone.localdate()
    return queryset.annotate(
        urgency=Case(
            When(status=DataRequestCase.Status.CLOSED, then=Value(3)),
            When(due_on__lt=today, then=Value(0)),
            When(due_on__lte=today + datetime.timedelta(days=DUE_SOON_DAYS), then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    ).order_by("urgency", "due_on", "pk")


# --- the consent funnel ---------------------------------------------------------------------------------
FUNNEL_WEEKS = 12
FUNNEL_SERIES = (
    ("started", ("requested",)),
    ("emails", ("requested", "resent", "reminded")),
    ("approved", ("granted",)),
    ("refused", ("refused",)),
    ("expired", ("expired",)),
    ("withdrawn", ("withdrawn",)),
)
AGE_BUCKETS = ((0, 1), (1, 3), (3, 5), (5, 7), (7, None))  # days


@dataclass
class Funnel:
    weeks: list[datetime.date]
    series: dict[str, list[int]]
    open_by_age: list[tuple[tuple[int, int | None], int]]


def consent_funnel(*, now: datetime.datetime | None = None) -> Funnel:
    """Per week (Monday) of the last FUNNEL_WEEKS weeks, the ledger's consent events by series, and the open
    requests by age. Two aggregate queries, whatever the number of rows."""
    now = now or timezone.now()
    this_monday = (now - datetime.timedelta(days=now.weekday())).date()
    weeks = [this_monday - datetime.timedelta(weeks=n) for n in range(FUNNEL_WEEKS - 1, -1, -1)]
    start = datetime.datetime.combine(weeks[0], datetime.time.min, tzinfo=datetime.UTC)
    kinds = sorted({kind for _name, group in FUNNEL_SERIES for kind in group})
    rows = (
        LedgerEntry.objects.filter(at__gte=start, kind__in=kinds)
        .annotate(week=TruncWeek("at"))
        .values("week", "kind")
        .annotate(n=Sum(Coalesce(Cast(KeyTextTransform("count", "detail"), IntegerField()), 1)))
        .order_by()
    )
    counts: dict[tuple[datetime.date, str], int] = {}
    for row in rows:
        counts[(row["week"].date(), row["kind"])] = int(row["n"])
    series = {
        name: [sum(counts.get((week, kind), 0) for kind in group) for week in weeks] for name, group in FUNNEL_SERIES
    }
    aggregates: dict[str, Any] = {}
    for low, high in AGE_BUCKETS:
        condition = Q(created_at__lte=now - datetime.timedelta(days=low))
        if high is not None:
            condition &= Q(created_at__gt=now - datetime.timedelta(days=high))
        aggregates[f"b{low}"] = Count("pk", filter=condition)
    by_age = PendingSignup.objects.aggregate(**aggregates)
    open_by_age = [((low, high), int(by_age[f"b{low}"])) for low, high in AGE_BUCKETS]
    return Funnel(weeks=weeks, series=series, open_by_age=open_by_age)
