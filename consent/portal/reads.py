"""What the parent portal reads: the one protected read every page looks a child up through, and what the
pages show about a child."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.dateparse import parse_datetime

from mindomo import privacy
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
    parental control. The portal's views look children up only through this."""
    email = normal_email(email)
    if not email:
        return ConsentRecord.objects.none()
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


def parent_has_children(email: str) -> bool:
    return records_visible_to_parent(email=email).exists()


def children_rows(*, email: str) -> list[dict[str, Any]]:
    """The parent's children, each with its parental control row (suspension, age-up), in two queries."""
    records = list(records_visible_to_parent(email=email))
    controls = {c.record_id: c for c in ParentalControl.objects.filter(record__in=records)}
    return [{"record": r, "control": controls.get(r.pk)} for r in records]


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
