"""The parent portal's reads compiled once per process (mindomo.statements): strings bound by position, the access
check by the parent's address, every provider's summary by the child's id and address, and the declarations'
line drawn once per language. Each gives what building every time gives, for every parent and child."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from django.utils import timezone, translation
from django.utils.html import format_html_join

from accounts.models import SupportInquiry, User
from consent.models import ConsentRecord, Guardian, ParentalControl
from consent.portal import present, reads
from consent.services import consent_record_school
from mindomo import statements
from mindomo.downloads.models import PreparedFile
from mindomo.outbox.models import Delivery
from mindomo.privacy import registry
from schools.models import School, SchoolMembership
from tests.consent.portal_helpers import consented_child

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_statements")]


def _by_email(email: str, pk: int) -> tuple[str, list[Any], Any]:
    sql, params = User.objects.filter(email__iexact=email).exclude(pk=pk).values("pk").query.sql_with_params()
    return sql, list(params), None


def test_a_string_is_bound_by_position_as_given() -> None:
    first = statements.bind("t.by_email", _by_email, "Mia@Example.org", 3)
    assert first == _by_email("Mia@Example.org", 3)
    again = statements.bind("t.by_email", _by_email, " dad@example.ORG ", 8)
    assert again == _by_email(" dad@example.ORG ", 8)
    kept = [value for (key, _shape), value in statements._templates.items() if key == "t.by_email"]
    assert len(kept) == 1
    assert kept[0] is not statements._UNUSABLE


@pytest.mark.parametrize(
    "transform",
    [
        str.lower,
        str.upper,
        str.casefold,
        str.strip,
        str.lstrip,
        str.rstrip,
        lambda s: unicodedata.normalize("NFC", s),
        lambda s: unicodedata.normalize("NFKC", s),
        lambda s: s.split("@")[0],
    ],
)
def test_a_build_that_transforms_the_string_is_not_reused(transform: Any) -> None:
    def build(email: str) -> tuple[str, list[Any], Any]:
        sql, params = User.objects.filter(email=transform(email)).query.sql_with_params()
        return sql, list(params), None

    assert statements.bind("t.transformed", build, "Mia@Example.org") is None


def test_a_string_inside_a_pattern_is_not_reused() -> None:
    def build(email: str) -> tuple[str, list[Any], Any]:
        sql, params = User.objects.filter(email__icontains=email).query.sql_with_params()
        return sql, list(params), None

    assert statements.bind("t.pattern", build, "mia") is None


def test_an_empty_string_is_a_shape_of_its_own() -> None:
    def build(email: str) -> tuple[str, list[Any], Any]:
        rows = User.objects.filter(is_active=True)
        if email:
            rows = rows.filter(email__iexact=email)
        sql, params = rows.query.sql_with_params()
        return sql, list(params), None

    assert statements.bind("t.maybe", build, "mia@example.org") == build("mia@example.org")
    assert statements.bind("t.maybe", build, "") == build("")
    assert statements.bind("t.maybe", build, "dad@example.org") == build("dad@example.org")


MUM = "Mum.Portal@Example.org"


def _seen(records: list[ConsentRecord]) -> list[tuple[Any, ...]]:
    return [
        (
            r.pk,
            r.method,
            r.parent_email,
            r.child.pk,
            r.child.username,
            r.school.name if r.school else None,
            r.rule.pk if r.rule else None,
            reads._control(r).pk if reads._control(r) else None,
        )
        for r in records
    ]


def _school_registered(login: str) -> ConsentRecord:
    school = School.objects.create(name="Maple Grove", country="US", contact_email="office@maple.example")
    admin = User.objects.create(username=f"{login}.admin", password="!")
    SchoolMembership.objects.create(school=school, user=admin, role=SchoolMembership.Role.ADMIN)
    student = User.objects.create(username=login, password="!")
    SchoolMembership.objects.create(school=school, user=student, role=SchoolMembership.Role.STUDENT)
    return consent_record_school(child=student, school=school, granted_by=admin)


def test_the_compiled_access_check_sees_what_the_queryset_sees(django_assert_num_queries: Any) -> None:
    """A parent who consented for one child and was invited for another (a school's), a child whose parental
    control ended, another parent's child: each address, typed in any case, sees the same records as the
    queryset, with the same related rows already read."""
    own = consented_child("portal.own", MUM)
    ended = consented_child("portal.grown", MUM)
    other = consented_child("portal.other", "someone.else@example.org")
    now = timezone.now()
    ParentalControl.objects.create(record=ConsentRecord.objects.get(child=ended), age_up_due_at=now, ended_at=now)
    school_record = _school_registered("portal.pupil")
    Guardian.objects.create(record=school_record, email=MUM.lower())
    ParentalControl.objects.create(record=ConsentRecord.objects.get(child=own), suspended_at=now)

    for email in (MUM, f"  {MUM.upper()} ", "someone.else@example.org", "nobody@example.org", ""):
        expected = list(reads.records_visible_to_parent(email=email))
        found = reads.visible_records(email=email)
        with django_assert_num_queries(0):  # the child, school, rule and control were read with the record
            assert _seen(found) == _seen(expected)
    assert {r.child.username for r in reads.visible_records(email=MUM)} == {"portal.own", "portal.pupil"}

    assert reads.visible_record(email=MUM, child_id=own.pk) == ConsentRecord.objects.get(child=own)
    assert reads.visible_record(email=MUM, child_id=school_record.child_id) == school_record
    assert reads.visible_record(email=MUM, child_id=other.pk) is None  # another parent's child
    assert reads.visible_record(email=MUM, child_id=ended.pk) is None  # parental control ended
    assert reads.visible_record(email="someone.else@example.org", child_id=own.pk) is None
    reused = {key[0] for key, value in statements._templates.items() if value is not statements._UNUSABLE}
    assert {("consent.portal.visible", False), ("consent.portal.visible", True)} <= reused


def _summaries_compiled_every_time(user: User) -> dict[str, Any]:
    statements.forget()
    original = statements._template
    statements._template = lambda build, shape: statements._UNUSABLE  # type: ignore[assignment]
    try:
        return registry.summarise_user(user)
    finally:
        statements._template = original  # type: ignore[assignment]
        statements.forget()


def test_every_providers_summary_is_compiled_once_and_bound_to_each_childs_id_and_address() -> None:
    """The account's profile, support messages, the outbox and prepared files read the child's address: bound as a
    parameter, each child gets their own, an address in another case included, and a child without one nothing."""
    mia = User.objects.create(username="sum.mia", email="Mia.Sum@Example.org", first_name="Mia", password="!")
    leo = User.objects.create(username="sum.leo", email="leo.sum@example.org", first_name="Leo", password="!")
    ada = User.objects.create(username="sum.ada", email="", first_name="Ada", password="!")
    for _n in range(2):
        SupportInquiry.objects.create(name="M", email="MIA.SUM@example.ORG", topic="other", message="hi")
    SupportInquiry.objects.create(name="", email="", topic="other", message="no address")
    Delivery.objects.create(
        kind="t",
        to_email="mia.sum@EXAMPLE.org",
        from_email="x@y",
        subject="s",
        text_body="b",
        due_at=timezone.now(),
        next_attempt_at=timezone.now(),
    )
    for owner in ("mia.sum@example.org", "leo.sum@example.org", "leo.sum@example.org", ""):
        PreparedFile.objects.create(kind="t", owner_email=owner, download_name="f", content_type="text/plain")

    expected = {u.pk: _summaries_compiled_every_time(u) for u in (mia, leo, ada)}
    compiled = {u.pk: registry.summarise_user(u) for u in (mia, leo, ada, mia, ada, leo)}
    assert compiled == expected
    assert compiled[mia.pk]["support"]["inquiries"] == 2
    assert compiled[leo.pk]["support"]["inquiries"] == 0
    assert compiled[ada.pk]["support"]["inquiries"] == 0  # the message without an address is no one's
    assert compiled[mia.pk]["outbox"]["emails"] == 1
    assert compiled[leo.pk]["downloads"]["prepared_files"] == 2
    assert compiled[ada.pk]["downloads"]["prepared_files"] == 0
    assert compiled[mia.pk]["accounts"]["profile"]["username"] == "sum.mia"
    assert compiled[mia.pk]["accounts"]["profile"]["email"] == "Mia.Sum@Example.org"
    reused = {key[0] for key, value in statements._templates.items() if value is not statements._UNUSABLE}
    providers = ("accounts", "support", "outbox", "downloads", "consent", "grading")
    assert {("privacy.summary", name) for name in providers} <= reused


def test_the_declarations_line_is_drawn_once_per_language_and_follows_the_settings(settings: Any) -> None:
    provider = registry.get("accounts")

    def fresh() -> str:
        return format_html_join(" · ", "{} ({})", ((d.purpose, d.retention) for d in provider.declarations()))

    with translation.override("en"):
        english = present.declarations_line(provider)
        assert english == fresh()
        assert present.declarations_line(provider) is english  # remembered
    with translation.override("de"):
        german = present.declarations_line(provider)
        assert german == fresh()
    assert german != english
    settings.DATA_EXPORT_TTL_DAYS = 3
    with translation.override("en"):
        assert "deleted 3 days after it is ready" in present.declarations_line(provider)
