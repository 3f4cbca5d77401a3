"""What the parent portal reads: the one protected read every page looks a child up through, and what the
pages show about a child."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.utils.dateparse import parse_datetime

from mindomo import privacy, statements
from mindomo.privacy import registry
from schools.models import SchoolMembership

from .. import hooks
from ..models import (
    ConsentMethod,
    ConsentRecord,
    DisclosureConsent,
    Guardian,
    LedgerEntry,
    ParentalControl,
)
from ..selectors import ledger_rows_of_child, third_parties_needing_separate_consent
from .present import ledger_lines, sections_for

STAFF_ACCESSES_SHOWN = 50


def normal_email(email: str) -> str:
    return email.strip().lower()


def records_visible_to_parent(*, email: str) -> QuerySet[ConsentRecord]:
    """The consent records of the children this address consented for (or was invited for), still under
    parental control. The portal's views look children up only through this (``visible_records``: the same
    read compiled once per process)."""
    email = normal_email(email)
    if not email:
        return ConsentRecord.objects.none()
    return _visible_to(email)


def _visible_to(email: str) -> QuerySet[ConsentRecord]:
    """``records_visible_to_parent`` of an address already normalised (``normal_email``) and not empty: used
    as given, so the statement can be compiled once with the address as a parameter."""
    # Two indexed lookups united (LOWER(parent_email), LOWER(guardian email)); an OR of the first with an
    # EXISTS over guardians could only be answered by reading every consent record.
    consented = ConsentRecord.objects.filter(parent_email__iexact=email).values("pk")
    invited = Guardian.objects.filter(email__iexact=email).values("record_id")
    ended = ParentalControl.objects.filter(record=OuterRef("pk"), ended_at__isnull=False)
    return (
        ConsentRecord.objects.filter(pk__in=consented.union(invited))
        .exclude(Exists(ended))
        .select_related("child", "school", "rule", "control")
        .order_by("child__username")
    )


def visible_records(*, email: str, child_id: int | None = None) -> list[ConsentRecord]:
    """``records_visible_to_parent(email=email)`` as a list (only ``child_id``'s record when given), each with
    its child, school, rule and parental control, in one query: the statement is compiled once per process with
    the normalised address (and the child's id) as parameters (``mindomo.statements``) and runs prepared, so
    neither Django's building nor PostgreSQL's planning of the union and its four joins is paid per call."""
    email = normal_email(email)
    if not email:
        return []
    args: tuple[Any, ...] = (email,) if child_id is None else (email, child_id)
    key = ("consent.portal.visible", child_id is not None)
    sql, params, columns = statements.bind(key, _visible_sql, *args) or _visible_sql(*args)
    return [_record_from_row(columns, row) for row in statements.rows(sql, params)]


def visible_record(*, email: str, child_id: int) -> ConsentRecord | None:
    """The child's record if this address may see it (``visible_records``), else None."""
    found = visible_records(email=email, child_id=child_id)
    return found[0] if found else None


def _visible_sql(email: str, child_id: int | None = None) -> tuple[str, list[Any], tuple[tuple[str, str], ...]]:
    """The SQL of ``_visible_to`` (with the child's id), its parameters and its columns as (model, attribute)."""
    rows = _visible_to(email)
    if child_id is not None:
        rows = rows.filter(child_id=child_id)
    compiler = rows.query.get_compiler(using=rows.db)
    sql, params = compiler.as_sql()
    columns = tuple((col.target.model._meta.label_lower, col.target.attname) for col, _sql, _alias in compiler.select)
    return sql, list(params), columns


# The relations ``_visible_to`` selects with the record, by the model of their columns.
_RELATED = {
    "accounts.user": ConsentRecord._meta.get_field("child"),
    "schools.school": ConsentRecord._meta.get_field("school"),
    "consent.agerule": ConsentRecord._meta.get_field("rule"),
    "consent.parentalcontrol": ConsentRecord._meta.get_field("control"),
}


@cache
def _layout(columns: tuple[tuple[str, str], ...]) -> list[tuple[type[Model], list[str], int, int]]:
    """The statement's columns grouped by model, in order: (model, attribute names, first column, end)."""
    groups: list[tuple[type[Model], list[str], int, int]] = []
    start = 0
    for n in range(1, len(columns) + 1):
        if n == len(columns) or columns[n][0] != columns[start][0]:
            model = apps.get_model(columns[start][0])
            groups.append((model, [name for _label, name in columns[start:n]], start, n))
            start = n
    assert groups[0][0] is ConsentRecord, groups
    return groups


def _record_from_row(columns: tuple[tuple[str, str], ...], row: tuple[Any, ...]) -> ConsentRecord:
    """A record with its related rows cached, as the queryset's ``select_related`` makes it."""
    (_model, names, start, end), *related = _layout(columns)
    record = ConsentRecord.from_db(DEFAULT_DB_ALIAS, names, row[start:end])
    for model, names, start, end in related:
        values = row[start:end]
        pk = values[names.index(model._meta.pk.attname)]
        found = None if pk is None else model.from_db(DEFAULT_DB_ALIAS, names, values)
        field: Any = _RELATED[model._meta.label_lower]
        field.set_cached_value(record, found)  # record.child, .school, .rule; record.control (a reverse one-to-one)
        if found is not None and field.one_to_one:  # and back: child.consentrecord, control.record
            (field.remote_field if field.concrete else field.field).set_cached_value(found, record)
    return record


def parent_has_children(email: str) -> bool:
    return bool(visible_records(email=email))


def children_rows(*, email: str) -> list[dict[str, Any]]:
    """The parent's children, each with its parental control row (suspension, age-up), in one query."""
    return [{"record": r, "control": _control(r)} for r in visible_records(email=email)]


def guardian_emails(record: ConsentRecord) -> list[str]:
    emails = [record.parent_email] if record.parent_email else []
    emails += list(Guardian.objects.filter(record=record).order_by("pk").values_list("email", flat=True))
    return emails


def guardian_addresses(record: ConsentRecord) -> list[tuple[str, str]]:
    """Each guardian's address with the language their emails are written in (the parent's, each guardian's)."""
    found = [(record.parent_email, record.parent_language)] if record.parent_email else []
    found += list(Guardian.objects.filter(record=record).order_by("pk").values_list("email", "language"))
    return found


def ledger_for_child(record: ConsentRecord) -> QuerySet[LedgerEntry]:
    """The child's consent events, oldest first: its own rows and the batches naming it (as
    ``ledger.entries_for_subject``), the pseudonym a subquery (read in the page's one statement, creating none)."""
    return ledger_rows_of_child(record.child_id).order_by("seq")


def _child_page_extra(child: privacy.Subject) -> list[privacy.SummaryItem]:
    """What the child's page reads with the providers' summaries, by the child's id only (the registry compiles
    it once per process): the guardians invited, the consent history, the separate consents given and the
    staff's accesses. A child has one consent record (``ConsentRecord.child`` is one-to-one)."""
    return [
        privacy.Rows(Guardian.objects.filter(record__child_id=child.pk).order_by("pk").values("email"), limit=None),
        privacy.Rows(ledger_rows_of_child(child.pk).order_by("seq").values("at", "kind"), limit=None),
        privacy.Rows(DisclosureConsent.objects.filter(record__child_id=child.pk).values("third_party_id"), limit=None),
        privacy.Rows(hooks.staff_accesses.implementation()(subject_id=child.pk), limit=STAFF_ACCESSES_SHOWN),
    ]


def child_page(*, record: ConsentRecord, email: str) -> dict[str, Any]:
    """What the child's page shows: the consent, its ledger and the guardians, every provider's data that
    applies to a child (a school-registered child's school, classes and grades included), the staff's accesses,
    and for a child whose parent consented the separate consents to third parties."""

    # One statement reads every provider's summary and, with it, the guardians, the consent history, the
    # separate consents given and the staff's accesses (mindomo.privacy.read_items).
    summaries = registry.summarise_user(record.child, also=_child_page_extra)
    extra = summaries.pop("")
    guardians, history, given, accesses = extra["0"], extra["1"], extra["2"], extra["3"]
    page: dict[str, Any] = {
        "record": record,
        "child": record.child,
        "control": _control(record),
        "school_managed": record.method == ConsentMethod.SCHOOL,
        "email": email,
        "guardians": ([record.parent_email] if record.parent_email else []) + [g["email"] for g in guardians],
        "ledger": ledger_lines(history),
        "sections": sections_for(summaries),
        "accesses": [{**row, "at": parse_datetime(row["at"])} for row in accesses],
    }
    if record.method == ConsentMethod.SCHOOL:
        return page  # requests about a school-registered child's data go to the school
    ids = {row["third_party_id"] for row in given}
    page["disclosures"] = [(p, p.pk in ids) for p in third_parties_needing_separate_consent()]
    return page


def _control(record: ConsentRecord) -> ParentalControl | None:
    """The record's parental control, read with the record (records_visible_to_parent: select_related)."""
    try:
        return record.control
    except ParentalControl.DoesNotExist:
        return None


def school_recipients(record: ConsentRecord) -> list[str]:
    """The school's contact, its administrators and the teachers of the child's classes."""
    assert record.school is not None
    admins = SchoolMembership.objects.filter(school=record.school, role=SchoolMembership.Role.ADMIN).exclude(
        user__email=""
    )
    found = [record.school.contact_email]
    found += list(admins.values_list("user__email", flat=True))
    for contacts in hooks.school_contacts:  # grading: the teachers of the child's classes
        found += list(contacts(school=record.school, child_id=record.child_id))
    return sorted({address.lower() for address in found if address})


def age_up_due(user: Any) -> bool:
    """A child who reached the age of consent and has not yet accepted the policy themselves."""
    return ParentalControl.objects.filter(
        record__child_id=user.pk, age_up_due_at__isnull=False, ended_at__isnull=True
    ).exists()
