"""Staff roles with least privilege: an access matrix over every role and admin page, and the access log."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from accounts.models import User
from privacy.models import AccessLog
from privacy.roles import ROLES
from tests.accounts.factories import UserFactory
from tests.support.mfa import sign_in

pytestmark = pytest.mark.django_db

ROLE_FIXTURES = [
    "member",
    "staff_without_role",
    "support_user",
    "billing_clerk_user",
    "privacy_officer_user",
    "superuser",
]

# Which admin changelists each role may open. Anything not listed for a role is refused.
ALLOWED = {
    "member": set(),
    "staff_without_role": set(),
    "support_user": {
        "accounts.user",
        "account.emailaddress",
        "schools.school",
        "schools.schoolmembership",
        "schools.teacherjoinrequest",  # "where is my request to join?" (read-only)
        "accounts.supportinquiry",
        "outbox.delivery",  # whether an email went out (read-only)
        "privacy.datarequestcase",  # opens data-request cases (acting on them is the privacy officer's)
    },
    "billing_clerk_user": {
        "billing.plan",
        "billing.vatrate",
        "billing.order",
        "billing.invoice",
        "billing.billingevent",
    },
    "privacy_officer_user": {
        "accounts.user",
        "consent.*",  # every consent record the consent app keeps
        "privacy.accesslog",
        "privacy.disclosurerequest",
        "privacy.notice",
        "privacy.noticedelivery",
        "privacy.policyversion",
        "privacy.policyacceptance",
        "privacy.policyreconsent",
        "privacy.datarequestcase",
        "accounts.dataexport",
        "accounts.erasurestep",
        "accounts.accountdeletionrequest",
        "grading.grade",
        "outbox.delivery",  # failed emails, and the retry action
    },
}
SENSITIVE = {
    "billing.invoice",
    "billing.order",
    "consent.consentrecord",
    "grading.grade",
    "privacy.accesslog",
    "privacy.disclosurerequest",
    "accounts.user",
    "accounts.supportinquiry",
}


def _admin_pages() -> list[str]:
    return sorted(f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry)


@pytest.mark.parametrize("role", ROLE_FIXTURES)
def test_each_role_opens_exactly_its_admin_pages(request: pytest.FixtureRequest, role: str) -> None:
    user: User = request.getfixturevalue(role)
    client = Client()
    sign_in(client, user)
    opened = set()
    for page in _admin_pages():
        app_label, model = page.split(".")
        response = client.get(reverse(f"admin:{app_label}_{model}_changelist"))
        assert response.status_code in (200, 302, 403), (page, response.status_code)
        if response.status_code == 200:
            opened.add(page)
    if role == "superuser":
        assert opened == set(_admin_pages())
    else:
        apps_allowed = {page.split(".")[0] for page in ALLOWED[role] if page.endswith(".*")}
        allowed = {p for p in _admin_pages() if p in ALLOWED[role] or p.split(".")[0] in apps_allowed}
        assert opened == allowed
        # the least-privilege promises, stated directly
        if role == "support_user":
            assert not opened & {"billing.invoice", "billing.order", "consent.consentrecord", "grading.grade"}
        if role == "billing_clerk_user":
            assert not opened & {"consent.consentrecord", "grading.grade", "accounts.user", "privacy.accesslog"}
    assert SENSITIVE & set(_admin_pages())  # the matrix covers the sensitive pages


def test_every_role_is_a_group_created_by_migration() -> None:
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {role.group for role in ROLES}


def test_support_sees_contact_details_but_not_passwords_or_permissions(support_user: User, member: User) -> None:
    client = Client()
    sign_in(client, support_user)
    html = client.get(reverse("admin:accounts_user_change", args=[member.pk])).content.decode()
    assert member.email in html
    for hidden in ('name="is_superuser"', 'name="groups"', 'name="user_permissions"', "argon2"):
        assert hidden not in html


def test_support_cannot_make_anyone_staff(support_user: User, member: User) -> None:
    client = Client()
    sign_in(client, support_user)
    client.post(
        reverse("admin:accounts_user_change", args=[member.pk]),
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": member.email,
            "country": "GB",
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
        },
    )
    member.refresh_from_db()
    assert not member.is_staff
    assert not member.is_superuser


def test_opening_a_user_in_the_admin_writes_the_access_log(support_user: User, member: User) -> None:
    client = Client()
    sign_in(client, support_user)
    client.get(reverse("admin:accounts_user_change", args=[member.pk]))

    entry = AccessLog.objects.get()
    assert (entry.staff_id, entry.action, entry.model, entry.object_id, entry.subject_id) == (
        support_user.pk,
        "view",
        "accounts.User",
        str(member.pk),
        member.pk,
    )


def test_a_record_pointing_at_a_user_logs_that_user_as_the_subject(superuser_client: Client, superuser: User) -> None:
    from allauth.account.models import EmailAddress

    person = UserFactory()
    address = EmailAddress.objects.get(user=person)
    superuser_client.get(reverse("admin:account_emailaddress_change", args=[address.pk]))

    assert list(AccessLog.objects.values_list("subject_id", "model")) == [(person.pk, "account.EmailAddress")]


def test_lists_and_refused_pages_write_no_access_log(billing_clerk_user: User, member: User) -> None:
    client = Client()
    sign_in(client, billing_clerk_user)
    assert client.get(reverse("admin:accounts_user_change", args=[member.pk])).status_code in (302, 403)
    client.get(reverse("admin:billing_invoice_changelist"))
    assert AccessLog.objects.count() == 0


def test_a_privacy_officer_lists_the_accesses_to_one_persons_data(
    privacy_officer_user: User, support_user: User, member: User, other_member: User
) -> None:
    staff = Client()
    sign_in(staff, support_user)
    staff.get(reverse("admin:accounts_user_change", args=[member.pk]))
    staff.get(reverse("admin:accounts_user_change", args=[other_member.pk]))
    staff.get(reverse("admin:accounts_user_history", args=[member.pk]))

    officer = Client()
    sign_in(officer, privacy_officer_user)
    response = officer.get(reverse("admin:privacy_accesslog_changelist"), {"q": str(member.pk)})

    rows = list(response.context["cl"].result_list)
    assert {(r.subject_id, r.action) for r in rows} == {(member.pk, "view"), (member.pk, "history")}
    assert AccessLog.objects.filter(staff=privacy_officer_user).count() == 0  # reading the log is not logged


def test_nobody_edits_or_deletes_the_access_log(superuser_client: Client, superuser: User, member: User) -> None:
    superuser_client.get(reverse("admin:accounts_user_change", args=[member.pk]))
    entry = AccessLog.objects.get()
    response = superuser_client.post(reverse("admin:privacy_accesslog_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AccessLog.objects.filter(pk=entry.pk).exists()


def test_every_model_declared_as_personal_data_is_audited_in_the_admin(db: Any) -> None:
    from privacy.audit import personal_data_models

    declared = set(personal_data_models()) - {"privacy.AccessLog"}
    for model, model_admin in admin.site._registry.items():
        if model._meta.label in declared:
            assert getattr(model_admin, "_access_logged", False), model._meta.label
