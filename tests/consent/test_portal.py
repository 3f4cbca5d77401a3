"""The parent portal: passwordless sign-in (single use, expiry, no enumeration, rate limits), the parent's
session, access (a parent sees and acts on their own children only), and each right: overview, password,
stop collection, download, delete or withdraw, a second guardian, and school-registered children."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountDeletionRequest, User
from consent.models import ConsentRecord, Guardian, LedgerEntry, ParentalControl
from consent.portal import session as portal_session
from mindomo.privacy import registry
from schools.models import School, SchoolMembership
from tests.consent.factories import make_user
from tests.consent.portal_helpers import (
    CHILD_PASSWORD,
    ask_link,
    consented_child,
    link_from_outbox,
    signed_in_parent,
)
from tests.support import roles
from tests.support.dbscan import tables_containing
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

MUM = "mum@example.org"
OTHER = "someone.else@example.org"


@pytest.fixture
def child() -> User:
    return consented_child("mia2016", MUM)


@pytest.fixture
def other_child() -> User:
    return consented_child("leo2015", OTHER)


@pytest.fixture
def mum(child: User, django_capture_on_commit_callbacks: Any) -> Client:
    return signed_in_parent(MUM, django_capture_on_commit_callbacks)


def child_can_log_in(login: str, password: str = CHILD_PASSWORD) -> bool:
    response = Client().post(reverse("account_login"), {"login": login, "password": password})
    return response.status_code == 302 and "inactive" not in response["Location"]


# --- getting in ---------------------------------------------------------------------------------------------
def test_the_link_works_once_and_a_get_changes_nothing(child: User, django_capture_on_commit_callbacks: Any) -> None:
    browser = Client()
    ask_link(browser, MUM, django_capture_on_commit_callbacks)
    link = link_from_outbox(MUM)

    assert browser.get(link).status_code == 200  # a mail scanner opening it uses nothing
    assert browser.get(reverse("consent:portal_children")).status_code == 302
    assert browser.post(link)["Location"] == reverse("consent:portal_children")
    page = browser.get(reverse("consent:portal_children"))
    assert "mia2016" in page.content.decode()

    another = Client()
    reused = another.post(link)
    assert reused.status_code == 410
    assert "already used" in reused.content.decode()
    assert another.get(reverse("consent:portal_children")).status_code == 302


def test_an_expired_or_tampered_link_is_refused(child: User, settings: Any) -> None:
    token = portal_session._link_fernet().encrypt_at_time(
        json.dumps({"e": MUM, "n": "abc"}).encode(),
        current_time=int(timezone.now().timestamp()) - settings.CONSENT_PORTAL_LINK_TTL - 5,
    )
    browser = Client()
    expired = browser.post(reverse("consent:portal_link", kwargs={"token": token.decode()}))
    assert expired.status_code == 400
    assert "expired" in expired.content.decode()
    tampered = browser.post(reverse("consent:portal_link", kwargs={"token": "gAAAAA" + "x" * 80}))
    assert tampered.status_code == 400
    assert browser.get(reverse("consent:portal_children")).status_code == 302


def test_the_page_answers_the_same_for_an_unknown_address_and_sends_nothing(
    child: User, django_capture_on_commit_callbacks: Any
) -> None:
    known = ask_link(Client(), MUM, django_capture_on_commit_callbacks)
    unknown = ask_link(Client(), "nobody@example.org", django_capture_on_commit_callbacks)

    assert known.status_code == unknown.status_code == 200

    def without_tokens(content: bytes) -> str:
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", content.decode())

    assert "Check your email" in known.content.decode()
    assert without_tokens(known.content) == without_tokens(unknown.content)
    assert [m.to for m in mail.outbox if "sign-in link" in m.subject] == [[MUM]]


def test_sign_in_links_are_rate_limited_per_address_and_per_ip(
    child: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.CONSENT_PORTAL_LINKS_PER_ADDRESS_PER_HOUR = 2
    settings.CONSENT_PORTAL_LINKS_PER_IP_PER_HOUR = 3
    for _ in range(2):
        ask_link(Client(REMOTE_ADDR="10.0.0.1"), MUM, django_capture_on_commit_callbacks)
    refused = ask_link(Client(REMOTE_ADDR="10.0.0.2"), MUM, django_capture_on_commit_callbacks)
    assert "Too many sign-in links" in refused.content.decode()
    assert len([m for m in mail.outbox if "sign-in link" in m.subject]) == 2

    ask_link(Client(REMOTE_ADDR="10.0.0.1"), "a@example.org", django_capture_on_commit_callbacks)  # 3rd from this IP
    by_ip = ask_link(Client(REMOTE_ADDR="10.0.0.1"), "b@example.org", django_capture_on_commit_callbacks)
    assert "Too many sign-in links" in by_ip.content.decode()


def test_the_parent_session_expires_after_a_few_hours(mum: Client, child: User, settings: Any) -> None:
    session = mum.session
    data = session[portal_session.SESSION_KEY]
    assert data["until"] - timezone.now().timestamp() == pytest.approx(settings.CONSENT_PORTAL_SESSION_SECONDS, abs=60)
    data["until"] = (timezone.now() - timedelta(seconds=1)).timestamp()
    session[portal_session.SESSION_KEY] = data
    session.save()

    response = mum.get(reverse("consent:portal_child", args=[child.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("consent:portal")


# --- access: another parent's child ------------------------------------------------------------------------
ACTIONS = [
    ("get", "consent:portal_child", {}),
    ("post", "consent:portal_download", {}),
    ("get", "consent:portal_receipt", {}),
    ("post", "consent:portal_password", {"password1": "new-secret-pass-77", "password2": "new-secret-pass-77"}),
    ("post", "consent:portal_suspend", {"action": "suspend"}),
    ("post", "consent:portal_delete", {"action": "delete", "confirm": "on"}),
    ("post", "consent:portal_guardian", {"email": "intruder@example.org"}),
    ("post", "consent:portal_school_request", {"request_kind": "deletion"}),
]


@pytest.mark.parametrize(("method", "name", "data"), ACTIONS, ids=[a[1].split(":")[1] for a in ACTIONS])
@pytest.mark.parametrize("viewer", ["other_parent", "no_portal_session", "child_itself", "staff_superuser"])
def test_nobody_but_its_parents_sees_or_acts_on_a_child(
    viewer: str,
    method: str,
    name: str,
    data: dict[str, str],
    child: User,
    other_child: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    if viewer == "other_parent":
        client = signed_in_parent(OTHER, django_capture_on_commit_callbacks)
    elif viewer in ("child_itself", "staff_superuser"):
        client = Client()
        sign_in(client, child if viewer == "child_itself" else roles.make_superuser())
    else:
        client = Client()
    ledger_rows = LedgerEntry.objects.count()
    mail.outbox.clear()

    response = getattr(client, method)(reverse(name, args=[child.pk]), data)

    if viewer == "other_parent":
        assert response.status_code == 404
    else:
        assert response.status_code == 302
        assert response["Location"] == reverse("consent:portal")
    child.refresh_from_db()
    assert child.is_active
    assert child.check_password(CHILD_PASSWORD)
    assert not Guardian.objects.exists()
    assert not ParentalControl.objects.exists()
    assert LedgerEntry.objects.count() == ledger_rows
    assert mail.outbox == []


def test_a_child_id_that_does_not_exist_looks_the_same_as_another_parents(mum: Client) -> None:
    assert mum.get(reverse("consent:portal_child", args=[987654])).status_code == 404


# --- the overview --------------------------------------------------------------------------------------------
def test_the_overview_shows_what_applies_to_a_child_and_the_login(mum: Client, child: User) -> None:
    from privacy.models import AccessLog

    AccessLog.objects.create(
        staff_label="support1", action="view", model="accounts.User", object_id=str(child.pk), subject_id=child.pk
    )
    page = mum.get(reverse("consent:portal_child", args=[child.pk])).content.decode()

    assert "mia2016" in page
    assert MUM in page
    exported = registry.export_user(child)
    for provider in registry.providers():
        has_data = any(exported.get(provider.name, {}).values())
        assert (f'data-section="{provider.name}"' in page) is has_data, provider.name  # empty sections left out
    assert 'data-section="billing"' not in page  # a child never buys
    assert "Consent granted" in page  # the ledger's history
    assert "accounts.User" in page  # the staff access


def test_the_children_page_issues_a_constant_number_of_queries(
    mum: Client, child: User, django_assert_max_num_queries: Any, settings: Any
) -> None:
    settings.CONSENT_EMAILS_PER_PARENT_PER_DAY = 50
    for n in range(5):
        consented_child(f"sibling{n}", MUM)
    with django_assert_max_num_queries(8):
        page = mum.get(reverse("consent:portal_children")).content.decode()
    assert all(f"sibling{n}" in page for n in range(5))


def test_a_childs_page_issues_at_most_ten_queries(mum: Client, child: User, django_assert_max_num_queries: Any) -> None:
    url = reverse("consent:portal_child", args=[child.pk])
    mum.get(url)  # warm-up: the first page of a session does some one-off work
    with django_assert_max_num_queries(10):
        page = mum.get(url).content.decode()
    assert "Consent history" in page


# --- login details -------------------------------------------------------------------------------------------
def test_the_parent_sets_a_new_password_and_the_child_logs_in_with_it(mum: Client, child: User) -> None:
    new = "new-secret-pass-77"
    response = mum.post(reverse("consent:portal_password", args=[child.pk]), {"password1": new, "password2": new})

    assert response.status_code == 302
    assert child_can_log_in("mia2016", new)
    assert not child_can_log_in("mia2016", CHILD_PASSWORD)


@pytest.mark.parametrize(
    ("first", "second"), [("new-secret-pass-77", "other-secret-pass-77"), ("123", "123"), ("", "")]
)
def test_a_bad_new_password_is_refused_and_changes_nothing(mum: Client, child: User, first: str, second: str) -> None:
    response = mum.post(
        reverse("consent:portal_password", args=[child.pk]), {"password1": first, "password2": second}, follow=True
    )
    assert response.status_code == 200
    assert "message error" in response.content.decode()
    child.refresh_from_db()
    assert child.check_password(CHILD_PASSWORD)


# --- stop collection -----------------------------------------------------------------------------------------
def test_stopping_collection_suspends_the_child_until_the_parent_resumes(mum: Client, child: User) -> None:
    signed_in_child = Client()
    signed_in_child.force_login(child)

    mum.post(reverse("consent:portal_suspend", args=[child.pk]), {"action": "suspend"})
    mum.post(reverse("consent:portal_suspend", args=[child.pk]), {"action": "suspend"})  # double submit

    assert not child_can_log_in("mia2016")
    assert signed_in_child.get(reverse("accounts:profile")).status_code == 302  # the open session ended
    assert list(LedgerEntry.objects.filter(kind="suspended").values_list("actor", flat=True)).__len__() == 1

    mum.post(reverse("consent:portal_suspend", args=[child.pk]), {"action": "resume"})
    assert child_can_log_in("mia2016")
    assert LedgerEntry.objects.filter(kind="resumed").count() == 1


# --- download: tests/consent/test_portal_download.py (a background job) ---------------------------------------


# --- delete and withdraw --------------------------------------------------------------------------------------
@pytest.mark.parametrize("action", ["delete", "withdraw"])
def test_delete_or_withdraw_erases_the_child_at_once_and_confirms_by_email(
    mum: Client, child: User, action: str, django_capture_on_commit_callbacks: Any
) -> None:
    pk = child.pk
    assert {"accounts_user", "consent_consentrecord"} <= set(tables_containing("mia2016")) | set(tables_containing(MUM))
    with django_capture_on_commit_callbacks(execute=True):
        response = mum.post(reverse("consent:portal_delete", args=[pk]), {"action": action, "confirm": "on"})

    assert response.status_code == 200
    assert "deleted" in response.content.decode()
    assert not User.objects.filter(pk=pk).exists()
    assert not ConsentRecord.objects.exists()
    assert tables_containing("mia2016") == {}
    assert tables_containing(MUM) == {}
    withdrawn = LedgerEntry.objects.get(kind="withdrawn")
    assert withdrawn.detail == {"action": action}
    deletion = AccountDeletionRequest.objects.get()
    assert (deletion.state, deletion.reauthenticated_by) == ("erased", "parent_portal")
    assert (
        deletion.reason
        == {
            "delete": "parent deleted the account in the portal",
            "withdraw": "parent withdrew consent in the portal",
        }[action]
    )
    assert any(MUM in m.to and "deleted" in m.subject for m in mail.outbox)
    assert mum.get(reverse("consent:portal_child", args=[pk])).status_code == 404


def test_without_the_confirmation_nothing_is_deleted(mum: Client, child: User) -> None:
    response = mum.post(reverse("consent:portal_delete", args=[child.pk]), {"action": "delete"}, follow=True)

    assert "Please confirm" in response.content.decode()
    assert User.objects.filter(pk=child.pk, is_active=True).exists()
    assert not LedgerEntry.objects.filter(kind="withdrawn").exists()


# --- two guardians ---------------------------------------------------------------------------------------------
def test_a_second_guardian_gets_the_same_rights(
    mum: Client, child: User, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        mum.post(reverse("consent:portal_guardian", args=[child.pk]), {"email": "Dad@Example.org"})
    assert any("dad@example.org" in m.to for m in mail.outbox)
    again = mum.post(reverse("consent:portal_guardian", args=[child.pk]), {"email": "dad@example.org"}, follow=True)
    assert "already" in again.content.decode()
    assert Guardian.objects.count() == 1

    dad = signed_in_parent("dad@example.org", django_capture_on_commit_callbacks)
    assert "mia2016" in dad.get(reverse("consent:portal_child", args=[child.pk])).content.decode()
    dad.post(reverse("consent:portal_suspend", args=[child.pk]), {"action": "suspend"})
    child.refresh_from_db()
    assert not child.is_active
    actors = list(
        LedgerEntry.objects.filter(kind__in=["granted", "suspended"]).order_by("seq").values_list("actor", flat=True)
    )
    assert len(set(actors)) == 2  # each guardian has their own pseudonym


# --- children registered through a school ---------------------------------------------------------------------
def test_a_school_childs_requests_go_to_the_school_and_are_not_carried_out(
    child: User, django_capture_on_commit_callbacks: Any
) -> None:
    from consent.services import consent_record_school
    from grading.models import Enrollment, SchoolClass

    school = School.objects.create(name="Maple Grove", country="US", contact_email="office@maplegrove.example")
    principal = make_user(username="principal", email="principal@maplegrove.example")
    teacher = make_user(username="teacher", email="teacher@maplegrove.example")
    SchoolMembership.objects.create(school=school, user=principal, role="admin")
    SchoolMembership.objects.create(school=school, user=teacher, role="teacher")
    student = make_user(username="sam.k", email="")
    consent_record_school(child=student, school=school, granted_by=principal)
    # A parent's address on the school's record (or invited as a guardian) opens the portal for this child.
    Guardian.objects.create(record=ConsentRecord.objects.get(child=student), email=MUM)
    klass = SchoolClass.objects.create(school=school, teacher=teacher, name="5B")
    Enrollment.objects.create(school_class=klass, student=student, number=1)
    mum = signed_in_parent(MUM, django_capture_on_commit_callbacks)
    mail.outbox.clear()

    page = mum.get(reverse("consent:portal_child", args=[student.pk])).content.decode()
    assert "Maple Grove" in page
    assert "office@maplegrove.example" in page
    assert mum.post(reverse("consent:portal_download", args=[student.pk])).status_code == 404
    assert (
        mum.post(
            reverse("consent:portal_delete", args=[student.pk]), {"action": "delete", "confirm": "on"}, follow=True
        ).status_code
        == 200
    )
    assert User.objects.filter(pk=student.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        mum.post(reverse("consent:portal_school_request", args=[student.pk]), {"request_kind": "deletion"})

    recipients = sorted(address for m in mail.outbox for address in m.to)
    assert recipients == ["office@maplegrove.example", "principal@maplegrove.example", "teacher@maplegrove.example"]
    assert all("sam.k" in m.body and MUM in m.body for m in mail.outbox)
    entry = LedgerEntry.objects.get(kind="school_request")
    assert entry.detail["request"] == "deletion"
    assert entry.method == "school"
    assert User.objects.filter(pk=student.pk, is_active=True).exists()  # not carried out by the portal


def test_a_parent_without_portal_access_sends_a_request_to_the_school_by_the_childs_username(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from consent.services import consent_record_school

    school = School.objects.create(name="Maple Grove", country="US", contact_email="office@maplegrove.example")
    principal = make_user(username="principal", email="principal@maplegrove.example")
    SchoolMembership.objects.create(school=school, user=principal, role="admin")
    student = make_user(username="sam.k", email="")
    consent_record_school(child=student, school=school, granted_by=principal)
    url = reverse("consent:portal_school")
    data = {"email": "dad@example.org", "request_kind": "overview", "message": "Please send me Sam's data."}

    with django_capture_on_commit_callbacks(execute=True):
        known = Client().post(url, {**data, "login": "Sam.K"})
        unknown = Client().post(url, {**data, "login": "nobody.here"})

    assert known.content == unknown.content
    assert "Request sent" in known.content.decode()
    assert sorted(a for m in mail.outbox for a in m.to) == ["office@maplegrove.example", "principal@maplegrove.example"]
    assert "Please send me Sam" in mail.outbox[0].body
    assert "dad@example.org" in mail.outbox[0].body
    assert LedgerEntry.objects.filter(kind="school_request").count() == 1
    refused = Client().post(url, {**data, "login": "sam.k", "request_kind": "everything"})
    assert refused.status_code == 200
    assert LedgerEntry.objects.filter(kind="school_request").count() == 1


def test_the_demo_parent_can_sign_in_to_the_portal_and_see_mia(django_capture_on_commit_callbacks: Any) -> None:
    from consent import demo

    logins = {login.login: login for login in demo.load()}
    demo.load()

    parent = signed_in_parent(demo.PARENT, django_capture_on_commit_callbacks)
    assert demo.PARENT in logins
    assert "mia" in parent.get(reverse("consent:portal_children")).content.decode()
    assert LedgerEntry.objects.filter(kind="granted").count() == 1  # idempotent


def test_a_deletion_the_child_scheduled_is_carried_out_now_when_the_parent_deletes(
    mum: Client, child: User, django_capture_on_commit_callbacks: Any
) -> None:
    from accounts.models import AccountDeletionRequest
    from accounts.services import account_deletion_request

    account_deletion_request(user=child, reauthenticated_by="password")

    with django_capture_on_commit_callbacks(execute=True):
        mum.post(reverse("consent:portal_delete", args=[child.pk]), {"action": "delete", "confirm": "on"})

    assert not User.objects.filter(pk=child.pk).exists()
    assert list(AccountDeletionRequest.objects.values_list("state", flat=True)) == ["erased"]
