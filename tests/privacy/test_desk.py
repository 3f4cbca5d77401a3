"""The privacy officer's desk: data-request cases from a parent's email to the reply, a child found without
consent, the person page, the access log search and CSV, the consent funnel, and the access matrix."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountDeletionRequest, User
from consent import ledger
from consent.models import LedgerEntry, PendingSignup
from mindomo.outbox.models import Delivery
from privacy import desk, desk_selectors
from privacy.models import AccessLog, CaseAction, DataRequestCase
from tests.consent.portal_helpers import consented_child
from tests.support.dbscan import assert_erased, tables_containing
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

PARENT = "parent.of.kiddo@example.org"
ROLES = ["member", "staff_without_role", "support_user", "billing_clerk_user", "privacy_officer_user", "superuser"]


@pytest.fixture
def child() -> User:
    return consented_child("kiddo.desk", PARENT)


def _open_case_in_admin(client: Client, **fields: str) -> Any:
    data = {
        "kind": "deletion",
        "source": "email",
        "requester_email": PARENT,
        "requester_relation": "parent",
        "message": "Please delete my child's data (login kiddo.desk).",
        "account": "kiddo.desk",
        **fields,
    }
    return client.post(reverse("admin:privacy_datarequestcase_add"), data)


def _act(client: Client, case: DataRequestCase, action: str, note: str = "") -> Any:
    return client.post(reverse("admin:privacy_datarequestcase_act", args=[case.pk, action]), {"note": note})


# --- a parent's deletion email, from the case to the reply ---------------------------------------------------
def test_a_parents_deletion_request_from_case_to_reply(
    child: User, support_user: User, privacy_officer_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    support = sign_in(Client(), support_user)
    response = _open_case_in_admin(support)
    assert response.status_code == 302, response.content[:500]
    case = DataRequestCase.objects.get()
    assert (case.kind, case.status, case.subject_id, case.opened_by_id) == (
        "deletion",
        "open",
        child.pk,
        support_user.pk,
    )
    assert case.due_on == (timezone.now() + datetime.timedelta(days=30)).date()
    # support opened it, but cannot act on it
    assert _act(support, case, "send_verification").status_code == 403

    officer = sign_in(Client(), privacy_officer_user)
    assert _act(officer, case, "erase").status_code == 302  # refused: not verified yet
    assert User.objects.filter(pk=child.pk).exists()
    assert _act(officer, case, "send_verification").status_code == 302
    email = Delivery.objects.get(kind="privacy.case_verification")
    assert email.to_email == PARENT  # the address on the consent record

    link = "/" + re.search(r"/privacy/requests/verify/\S+/", email.text_body).group(0).lstrip("/")
    parent = Client()
    assert parent.get(link).status_code == 200
    case.refresh_from_db()
    assert case.status == "open"  # a GET (a mail scanner) changes nothing
    assert parent.post(link, {"confirm": "yes"}).status_code == 200
    case.refresh_from_db()
    assert (case.status, case.verification) == ("verified", "consent_link")
    assert parent.post(link, {"confirm": "yes"}).status_code == 400  # once

    def erase() -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return _act(officer, case, "erase")

    assert_erased(["kiddo.desk"], erase)
    assert not User.objects.filter(pk=child.pk).exists()
    # a child under parental consent goes through the portal's erasure, with the desk's reason
    [deletion] = AccountDeletionRequest.objects.all()
    assert (deletion.reauthenticated_by, deletion.reason) == ("parent_portal", f"privacy desk: deletion case {case.pk}")
    case.refresh_from_db()
    assert case.subject_id is None
    assert case.subject_id_kept == child.pk
    assert case.message == ""

    assert _act(officer, case, "close", "Your child's account and data were deleted.").status_code == 302
    case.refresh_from_db()
    assert case.status == "closed"
    assert case.closed_at is not None
    reply = Delivery.objects.get(kind="privacy.case_reply")
    assert reply.to_email == PARENT
    assert "were deleted" in reply.text_body
    assert "Account erased through the erasure pipeline" in reply.text_body
    kinds = list(case.actions.values_list("kind", flat=True))
    assert kinds == ["opened", "link_sent", "verified", "erased", "closed"]
    page = officer.get(reverse("admin:privacy_datarequestcase_change", args=[case.pk])).content.decode()
    assert "Closed" in page
    assert "Account erased through the erasure pipeline" in page
    assert tables_containing("kiddo.desk") == {}


def test_a_tampered_or_foreign_verification_link_verifies_nothing(child: User, privacy_officer_user: User) -> None:
    case = desk.case_open(
        staff=privacy_officer_user,
        kind="access",
        source="email",
        requester_email=PARENT,
        requester_relation="parent",
        subject=child,
    )
    other = Client()
    assert other.post("/privacy/requests/verify/not-a-token/", {"confirm": "yes"}).status_code == 400
    forged = desk.verification_token(case, "someone.else@example.org")
    assert other.post(f"/privacy/requests/verify/{forged}/", {"confirm": "yes"}).status_code == 400
    case.refresh_from_db()
    assert case.status == "open"
    assert case.actions.count() == 1


def test_a_child_found_without_consent_is_suspended_at_once_and_erased_after_a_recorded_check(
    privacy_officer_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.accounts.factories import UserFactory

    reported = UserFactory(username="young.one.2019", email="young.one@example.org")
    officer = sign_in(Client(), privacy_officer_user)
    response = _open_case_in_admin(
        officer,
        source="no_consent",
        account="young.one.2019",
        requester_email="teacher@example.org",
        requester_relation="other",
    )
    assert response.status_code == 302
    case = DataRequestCase.objects.get()
    reported.refresh_from_db()
    assert reported.is_active is False  # suspended at once
    assert _act(officer, case, "erase").status_code == 302
    assert User.objects.filter(pk=reported.pk).exists()  # not before the check
    assert _act(officer, case, "record_check", "").status_code == 302
    assert not case.actions.filter(kind="check").exists()  # a check needs a note
    _act(officer, case, "record_check", "Asked the reporter; the account's messages show a 6-year-old.")

    def erase() -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return _act(officer, case, "erase")

    assert_erased(["young.one.2019", "young.one@example.org"], erase)
    assert list(case.actions.values_list("kind", flat=True)) == ["opened", "suspended", "check", "erased"]
    [deletion] = AccountDeletionRequest.objects.all()
    assert (deletion.reauthenticated_by, deletion.reason) == (
        "privacy_desk",
        f"privacy desk: deletion case {case.pk}",
    )


def test_stop_collection_and_export_from_a_verified_case(
    child: User, privacy_officer_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    case = desk.case_open(
        staff=privacy_officer_user,
        kind="stop_collection",
        source="email",
        requester_email=PARENT,
        requester_relation="parent",
        subject=child,
    )
    desk.case_verify(token=desk.verification_token(case, PARENT))
    officer = sign_in(Client(), privacy_officer_user)
    _act(officer, case, "stop_collection")
    child.refresh_from_db()
    assert child.is_active is False
    assert LedgerEntry.objects.filter(kind="suspended").exists()
    _act(officer, case, "export")
    _act(officer, case, "portal_link")
    assert list(case.actions.values_list("kind", flat=True))[-3:] == ["stopped", "export", "portal_link"]


def test_overdue_and_due_soon_cases_come_first(privacy_officer_user: User) -> None:
    today = timezone.localdate()
    made = {}
    for name, due in (("later", 25), ("overdue", -2), ("soon", 3), ("closed", -10)):
        case = desk.case_open(
            staff=privacy_officer_user,
            kind="access",
            source="email",
            requester_email=f"{name}@example.org",
            requester_relation="self",
            subject=None,
        )
        DataRequestCase.objects.filter(pk=case.pk).update(due_on=today + datetime.timedelta(days=due))
        made[name] = case.pk
    DataRequestCase.objects.filter(pk=made["closed"]).update(status="closed", closed_at=timezone.now())
    ordered = list(desk_selectors.cases_by_urgency(DataRequestCase.objects.all()).values_list("pk", flat=True))
    assert ordered == [made["overdue"], made["soon"], made["later"], made["closed"]]
    page = sign_in(Client(), privacy_officer_user).get(reverse("admin:privacy_datarequestcase_changelist"))
    assert [case.pk for case in page.context["cl"].result_list] == ordered
    assert "Overdue" in page.content.decode()
    assert "Due soon" in page.content.decode()


# --- the person page and the access log --------------------------------------------------------------------
def test_a_person_is_found_by_username_email_parent_email_or_name(child: User, member: User) -> None:
    for query in ("kiddo.desk", "KIDDO.DESK", PARENT, member.email.upper(), f"{member.first_name} {member.last_name}"):
        found = list(desk_selectors.person_search(query=query))
        assert found, query
    assert list(desk_selectors.person_search(query=PARENT)) == [child]


def test_opening_a_person_page_is_logged_and_shows_each_role_its_part(
    child: User, support_user: User, privacy_officer_user: User
) -> None:
    officer_page = sign_in(Client(), privacy_officer_user).get(reverse("admin:privacy_person", args=[child.pk]))
    assert officer_page.status_code == 200
    html = officer_page.content.decode()
    assert "Consent ledger" in html
    assert PARENT in html
    assert "Staff access log for this person" in html
    assert AccessLog.objects.filter(staff=privacy_officer_user, subject_id=child.pk).count() == 1

    support_page = sign_in(Client(), support_user).get(reverse("admin:privacy_person", args=[child.pk]))
    html = support_page.content.decode()
    assert support_page.status_code == 200
    assert "kiddo.desk" in html
    assert "Consent ledger" not in html
    assert PARENT not in html
    assert AccessLog.objects.filter(staff=support_user, subject_id=child.pk).count() == 1


def test_the_access_log_is_searched_by_username_or_email_and_exported_as_csv(
    child: User, member: User, support_user: User, privacy_officer_user: User
) -> None:
    support = sign_in(Client(), support_user)
    support.get(reverse("admin:accounts_user_change", args=[member.pk]))
    support.get(reverse("admin:privacy_person", args=[child.pk]))
    officer = sign_in(Client(), privacy_officer_user)
    url = reverse("admin:privacy_accesslog_changelist")
    by_subject = officer.get(url, {"q": member.email.upper()}).context["cl"].result_list
    assert {entry.subject_id for entry in by_subject} == {member.pk}
    by_staff = officer.get(url, {"q": support_user.email}).context["cl"].result_list
    assert {entry.staff_id for entry in by_staff} == {support_user.pk}
    assert len(by_staff) == 2
    csv_response = officer.get(reverse("admin:privacy_accesslog_csv"), {"q": "kiddo.desk", "action__exact": "view"})
    lines = b"".join(csv_response.streaming_content).decode().splitlines()
    assert lines[0].startswith("at,staff_member")
    assert len(lines) == 2
    assert f",{child.pk}" in lines[1]
    assert support_user.username in lines[1]


# --- the consent funnel ------------------------------------------------------------------------------------
def _seed_ledger(per_week: int) -> None:
    now = timezone.now()
    events = []
    for week in range(3):
        for n in range(per_week):
            events.append(ledger.Event(kind="requested", subject=f"s{week}-{n}"))
            if n % 2 == 0:
                events.append(ledger.Event(kind="granted", subject=f"s{week}-{n}"))
    ledger.append(events[: len(events) // 3], now=now - datetime.timedelta(weeks=2))
    ledger.append(events[len(events) // 3 : 2 * len(events) // 3], now=now - datetime.timedelta(weeks=1))
    ledger.append(events[2 * len(events) // 3 :], now=now)


@pytest.mark.parametrize("per_week", [10, 3334])
def test_the_funnel_counts_the_seeded_events_in_two_queries(per_week: int, django_assert_num_queries: Any) -> None:
    _seed_ledger(per_week)
    with django_assert_num_queries(2):
        funnel = desk_selectors.consent_funnel()
    total = 3 * per_week
    assert sum(funnel.series["started"]) == total
    assert sum(funnel.series["approved"]) == sum(1 for _w in range(3) for n in range(per_week) if n % 2 == 0)
    assert sum(funnel.series["emails"]) == total
    assert len(funnel.weeks) == 12


def test_the_funnel_page_draws_an_accessible_svg_with_the_same_figures(privacy_officer_user: User) -> None:
    _seed_ledger(10)
    page = sign_in(Client(), privacy_officer_user).get(reverse("admin:privacy_consent_funnel"))
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg class="funnel-chart" role="img"' in html
    assert '<title id="funnel-title">' in html
    assert "30 child sign-ups started" in html
    assert "<table" in html
    assert "<td>30</td>" in html


# --- the access matrix -------------------------------------------------------------------------------------
PAGES = {
    # page: roles that may open it
    "case_list": {"support_user", "privacy_officer_user", "superuser"},
    "case_add": {"support_user", "privacy_officer_user", "superuser"},
    "case_change": {"support_user", "privacy_officer_user", "superuser"},
    "person_search": {"support_user", "privacy_officer_user", "superuser"},
    "person": {"support_user", "privacy_officer_user", "superuser"},
    "funnel": {"privacy_officer_user", "superuser"},
    "access_log_csv": {"privacy_officer_user", "superuser"},
}


@pytest.mark.parametrize("role", ROLES)
def test_every_desk_page_and_action_for_every_role(role: str, request: pytest.FixtureRequest, child: User) -> None:
    from django.contrib.auth.models import Group

    opener = User.objects.create(username="desk-opener", is_staff=True, is_superuser=True)
    case = desk.case_open(
        staff=opener,
        kind="deletion",
        source="email",
        requester_email=PARENT,
        requester_relation="parent",
        subject=child,
    )
    user = request.getfixturevalue(role)
    client = sign_in(Client(), user)
    urls = {
        "case_list": reverse("admin:privacy_datarequestcase_changelist"),
        "case_add": reverse("admin:privacy_datarequestcase_add"),
        "case_change": reverse("admin:privacy_datarequestcase_change", args=[case.pk]),
        "person_search": reverse("admin:privacy_person_search") + "?q=kiddo",
        "person": reverse("admin:privacy_person", args=[child.pk]),
        "funnel": reverse("admin:privacy_consent_funnel"),
        "access_log_csv": reverse("admin:privacy_accesslog_csv"),
    }
    for name, url in urls.items():
        status = client.get(url).status_code
        if role in PAGES[name]:
            assert status == 200, (role, name, status)
        else:
            assert status in (302, 403), (role, name, status)
    assert Group.objects.exists()
    # actions: only the privacy officer (and a superuser) act; for everyone else nothing changes
    for action in ("send_verification", "suspend", "export", "stop_collection", "erase", "close", "record_check"):
        before = CaseAction.objects.filter(case=case).count()
        status = _act(client, case, action, "note").status_code
        if role in {"privacy_officer_user", "superuser"}:
            assert status == 302, (role, action)
        else:
            assert status in (302, 403), (role, action)
            assert CaseAction.objects.filter(case=case).count() == before, (role, action)
            assert User.objects.get(pk=child.pk).is_active
    assert PendingSignup.objects.count() == 0
