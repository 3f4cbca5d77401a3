"""Account deletion: confirmation (password, or a fresh sign-in through the linked service), immediate
deactivation, the grace period in which signing in cancels, and the erasure pipeline run per provider."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.conf import settings as django_settings
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.template.defaultfilters import date as date_filter
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import AccountDeletionRequest, DataExport, ErasureStep, SupportInquiry, User
from billing.models import Invoice
from grading.models import Grade
from mindomo.privacy import registry
from tests.accounts.factories import PASSWORD, UserFactory
from tests.billing.helpers import paid_invoice
from tests.grading.factories import GradeFactory
from tests.support.dbscan import tables_containing

pytestmark = pytest.mark.django_db

DELETE = reverse("accounts:account_delete")


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _request_deletion(user: User, capture: Any) -> AccountDeletionRequest:
    with capture(execute=True):
        return services.account_deletion_request(user=user, reauthenticated_by="password")


def _sign_in(client: Client, login: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("account_login"), {"login": login, "password": password})


# --- confirming ------------------------------------------------------------------------------------


def test_a_wrong_password_changes_nothing(member: User, member_client: Client) -> None:
    response = member_client.post(DELETE, {"password": "not-my-password", "understood": "on"})

    assert response.status_code == 200
    assert "This is not your current password." in response.content.decode()
    member.refresh_from_db()
    assert member.is_active
    assert not AccountDeletionRequest.objects.exists()
    assert member_client.get(reverse("accounts:profile")).status_code == 200


def test_without_ticking_the_box_nothing_happens(member: User, member_client: Client) -> None:
    response = member_client.post(DELETE, {"password": PASSWORD})

    assert response.status_code == 200
    assert not AccountDeletionRequest.objects.exists()
    member.refresh_from_db()
    assert member.is_active


def test_the_password_deactivates_at_once_ends_every_session_and_emails_the_date(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    other_browser = Client()
    other_browser.force_login(member)

    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(DELETE, {"password": PASSWORD, "understood": "on"})

    assert response["Location"] == reverse("accounts:account_delete_done")
    member.refresh_from_db()
    assert not member.is_active
    deletion = AccountDeletionRequest.objects.get(user=member)
    assert deletion.state == AccountDeletionRequest.State.SCHEDULED
    assert deletion.reauthenticated_by == "password"
    assert deletion.reason == services.OWN_REQUEST_REASON
    assert abs(deletion.erase_after - (deletion.requested_at + timedelta(days=14))) < timedelta(seconds=1)
    for browser in (member_client, other_browser):
        assert browser.get(reverse("accounts:profile"))["Location"].startswith(reverse("account_login"))
    [message] = mail.outbox
    assert message.to == [member.email]
    assert message.subject == "Your account will be deleted"
    assert date_filter(deletion.erase_after, "DATE_FORMAT") in message.body
    assert "/accounts/login/" in message.body
    assert "/account/support/" in message.body


def test_a_second_request_is_refused(member: User, django_capture_on_commit_callbacks: Any) -> None:
    _request_deletion(member, django_capture_on_commit_callbacks)
    member.refresh_from_db()
    with pytest.raises(Exception, match="already scheduled"):
        services.account_deletion_request(user=member, reauthenticated_by="password")
    assert AccountDeletionRequest.objects.count() == 1


def test_staff_cannot_delete_their_account_themselves(superuser: User, superuser_client: Client) -> None:
    response = superuser_client.post(DELETE, {"password": PASSWORD, "understood": "on"})

    assert "Staff accounts are closed by an administrator." in response.content.decode()
    superuser.refresh_from_db()
    assert superuser.is_active
    assert not AccountDeletionRequest.objects.exists()


def test_the_delete_page_needs_a_signed_in_user(client: Client) -> None:
    response = client.post(DELETE, {"password": PASSWORD, "understood": "on"})
    assert response["Location"].startswith(reverse("account_login"))
    assert not AccountDeletionRequest.objects.exists()


# --- a social-only account confirms through its provider --------------------------------------------


def _microsoft_login(client: Client, fake: Any) -> Any:
    response = client.post(reverse("microsoft_login"), {"process": "login", "next": DELETE})
    provider_redirect = requests.get(response["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(provider_redirect.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def test_an_account_without_password_confirms_by_signing_in_again_with_its_provider(
    fake_microsoft: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = UserFactory(password=make_password(None), email="marie.curie@example.org")
    SocialAccount.objects.create(user=user, provider="microsoft", uid=fake_microsoft.profile["id"])
    client = Client()
    client.force_login(user)

    page = client.get(DELETE).content.decode()
    assert "Sign in again with Microsoft" in page
    refused = client.post(DELETE, {"understood": "on"}, follow=True)
    assert "Please sign in again with your connected service first." in refused.content.decode()
    assert not AccountDeletionRequest.objects.exists()

    assert _microsoft_login(client, fake_microsoft)["Location"] == DELETE
    assert "You signed in again with microsoft." in client.get(DELETE).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(DELETE, {"understood": "on"})

    assert response["Location"] == reverse("accounts:account_delete_done")
    deletion = AccountDeletionRequest.objects.get(user=user)
    assert deletion.reauthenticated_by == "socialaccount:microsoft"
    user.refresh_from_db()
    assert not user.is_active

    # ...and signing in with the provider during the grace period cancels the deletion.
    fresh = Client()
    _microsoft_login(fresh, fake_microsoft)
    deletion.refresh_from_db()
    user.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.CANCELLED
    assert user.is_active
    assert fresh.get(reverse("accounts:profile")).status_code == 200


# --- grace period ----------------------------------------------------------------------------------


def test_signing_in_during_the_grace_period_cancels_the_deletion(
    member: User, django_capture_on_commit_callbacks: Any
) -> None:
    deletion = _request_deletion(member, django_capture_on_commit_callbacks)
    client = Client()

    response = _sign_in(client, member.username)

    assert response.status_code == 302
    deletion.refresh_from_db()
    member.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.CANCELLED
    assert deletion.cancelled_at is not None
    assert member.is_active
    page = client.get(reverse("accounts:profile"), follow=True).content.decode()
    assert "Welcome back. Your account will not be deleted." in page
    with django_capture_on_commit_callbacks(execute=True):
        assert services.account_erasures_due(now=timezone.now() + timedelta(days=30)) == 0
    assert User.objects.filter(pk=member.pk).exists()


def test_a_wrong_password_during_the_grace_period_cancels_nothing(
    member: User, django_capture_on_commit_callbacks: Any
) -> None:
    deletion = _request_deletion(member, django_capture_on_commit_callbacks)

    _sign_in(Client(), member.username, "wrong-password-123")

    deletion.refresh_from_db()
    member.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.SCHEDULED
    assert not member.is_active


def test_nothing_is_erased_before_the_grace_period_ends(member: User, django_capture_on_commit_callbacks: Any) -> None:
    deletion = _request_deletion(member, django_capture_on_commit_callbacks)

    assert services.account_erasures_due(now=deletion.erase_after - timedelta(minutes=1)) == 0
    services.account_erasure_run(request_id=deletion.pk)

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.SCHEDULED
    assert not ErasureStep.objects.exists()
    assert User.objects.filter(pk=member.pk).exists()


# --- erasure -----------------------------------------------------------------------------------------


def _user_with_data_everywhere() -> User:
    user = UserFactory(
        username="zebedee-xylo-4471",
        email="zebedee.xylo.4471@example.org",
        first_name="Quintessa",
        last_name="Vanterpool",
    )
    SocialAccount.objects.create(user=user, provider="google", uid="g-xylo-4471")
    GradeFactory(student=user, feedback="Well argued")
    SupportInquiry.objects.create(
        user=None, name="Quintessa Vanterpool", email=user.email, topic="privacy", message="What do you hold?"
    )
    return user


def test_erasure_removes_the_user_from_every_table_and_frees_email_and_username(
    django_capture_on_commit_callbacks: Any, media_root: Path
) -> None:
    user = _user_with_data_everywhere()
    invoice = paid_invoice(user)
    client = Client()
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("accounts:data_export"))
    export_file = Path(django_settings.MEDIA_ROOT) / services.data_export_name(DataExport.objects.get(user=user))
    assert export_file.is_file()
    keep = UserFactory()
    deletion = _request_deletion(user, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    needles = ("zebedee-xylo-4471", "zebedee.xylo.4471@example.org", "Quintessa", "Vanterpool", "g-xylo-4471")
    for needle in needles:  # there before, in more than the invoice kept under the tax duty
        assert set(tables_containing(needle)) - {"billing_invoice"}, needle

    with django_capture_on_commit_callbacks(execute=True):
        assert services.account_erasures_due(now=deletion.erase_after + timedelta(seconds=1)) == 1

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.ERASED
    assert deletion.user_id is None
    assert {(s.provider, s.state) for s in deletion.steps.all()} == {(p.name, "done") for p in registry.providers()}
    assert not User.objects.filter(pk=user.pk).exists()
    assert not SocialAccount.objects.filter(uid="g-xylo-4471").exists()
    assert not export_file.exists()
    # The invoice stays, detached, under its tax retention: the only place the buyer's details remain.
    invoice.refresh_from_db()
    assert invoice.user_id is None
    for needle in needles:
        assert set(tables_containing(needle)) <= {"billing_invoice"}, needle
    assert tables_containing("Quintessa", ignore_tables=frozenset({"billing_invoice"})) == {}
    assert User.objects.filter(pk=keep.pk).exists()
    [goodbye] = mail.outbox
    assert goodbye.to == ["zebedee.xylo.4471@example.org"]
    assert goodbye.subject == "Your account has been deleted"
    # email and username are free again
    again = UserFactory(username="zebedee-xylo-4471", email="zebedee.xylo.4471@example.org")
    assert again.pk != user.pk
    # a later run changes nothing
    assert services.account_erasures_due(now=timezone.now() + timedelta(days=60)) == 0
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_an_erasure_at_once_keeps_who_asked_and_why_and_adds_it_to_a_request_the_person_made(
    django_capture_on_commit_callbacks: Any,
) -> None:
    asked_by_staff, asked_themselves = UserFactory(), UserFactory()
    scheduled = _request_deletion(asked_themselves, django_capture_on_commit_callbacks)
    assert scheduled.reason == services.OWN_REQUEST_REASON

    with django_capture_on_commit_callbacks(execute=True):
        first = services.account_erase_now(user=asked_by_staff, requested_by="privacy_desk", reason="case 12")
        second = services.account_erase_now(user=asked_themselves, requested_by="parent_portal", reason="withdrawn")

    assert (first.state, first.reauthenticated_by, first.reason) == ("erased", "privacy_desk", "case 12")
    assert (second.pk, second.state) == (scheduled.pk, "erased")
    assert second.reason == f"{services.OWN_REQUEST_REASON}; then at once: withdrawn"
    too_long = services.account_erase_now(user=UserFactory(), requested_by="school", reason="x" * 500)
    assert len(too_long.reason) == 200


def test_one_provider_failing_leaves_a_visible_error_and_a_retry_completes(
    monkeypatch: Any, django_capture_on_commit_callbacks: Any, superuser_client: Client, settings: Any
) -> None:
    user = _user_with_data_everywhere()
    needles = ("zebedee-xylo-4471", "zebedee.xylo.4471@example.org", "Quintessa", "Vanterpool")
    for needle in needles:  # there before: the last lines of this test could not fail otherwise
        assert tables_containing(needle), needle
    grades = list(Grade.objects.filter(student=user).values_list("pk", flat=True))
    deletion = _request_deletion(user, django_capture_on_commit_callbacks)
    grading = registry.get("grading")
    real_erase = grading.erase

    def erase_then_crash(victim: User) -> None:
        real_erase(victim)  # deletes the grades... then fails: none of it may stay deleted
        raise RuntimeError(f"lost connection while erasing {victim.email} ({victim.get_full_name()})")

    monkeypatch.setattr(grading, "erase", erase_then_crash)
    now = deletion.erase_after + timedelta(seconds=1)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.account_erasures_due(now=now) == 0

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.FAILED
    assert deletion.attempts == 1
    steps = {s.provider: s for s in deletion.steps.all()}
    names = [p.name for p in registry.providers()]
    before = names[: names.index("grading")]
    assert all(steps[name].state == "done" for name in before)
    failed = steps["grading"]
    assert failed.state == "failed"
    assert failed.attempts == 1
    assert "RuntimeError: lost connection while erasing [redacted] ([redacted])" == failed.error
    after = [name for name in names if name not in before and name != "grading"]
    assert "accounts" in after
    assert all(steps[name].state == "pending" for name in after)
    # nothing half-deleted: the failing provider's work was rolled back, the account is untouched
    assert sorted(Grade.objects.filter(student=user).values_list("pk", flat=True)) == sorted(grades)
    assert User.objects.filter(pk=user.pk, is_active=False).exists()
    assert SocialAccount.objects.filter(user=user).exists()
    assert SupportInquiry.objects.filter(email=user.email).exists()
    # the error is visible to staff
    page = superuser_client.get(reverse("admin:accounts_accountdeletionrequest_change", args=[deletion.pk]))
    assert "lost connection while erasing [redacted]" in page.content.decode()
    # an early automatic run does not retry yet; the admin's retry does
    assert services.account_erasures_due(now=now + timedelta(minutes=5)) == 0
    monkeypatch.setattr(grading, "erase", real_erase)
    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(
            reverse("admin:accounts_accountdeletionrequest_changelist"),
            {"action": "retry_erasure", "_selected_action": [deletion.pk]},
        )
    assert response.status_code == 302

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.ERASED
    assert deletion.attempts == 2
    steps = {s.provider: s for s in deletion.steps.all()}
    assert {s.state for s in steps.values()} == {"done"}
    assert steps["grading"].attempts == 2
    assert steps["grading"].error == ""
    assert all(steps[name].attempts == 1 for name in before)  # done steps are never run twice
    assert not Grade.objects.filter(pk__in=grades).exists()
    assert not User.objects.filter(pk=user.pk).exists()
    for needle in needles:
        assert tables_containing(needle) == {}, needle


def test_a_failed_erasure_is_retried_automatically_after_the_delay(
    monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = _user_with_data_everywhere()
    deletion = _request_deletion(user, django_capture_on_commit_callbacks)
    support = registry.get("support")
    real_erase = support.erase

    def crash(victim: User) -> None:
        raise RuntimeError("mail archive unavailable")

    monkeypatch.setattr(support, "erase", crash)
    now = deletion.erase_after + timedelta(seconds=1)
    services.account_erasures_due(now=now)
    monkeypatch.setattr(support, "erase", real_erase)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.account_erasures_due(now=now + timedelta(minutes=31)) == 1

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.ERASED
    assert not SupportInquiry.objects.exists()


def test_signing_in_after_the_erasure_failed_does_not_reactivate_a_half_erased_account(
    monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = _user_with_data_everywhere()
    deletion = _request_deletion(user, django_capture_on_commit_callbacks)

    def crash(victim: User) -> None:
        raise RuntimeError("down")

    monkeypatch.setattr(registry.get("support"), "erase", crash)
    services.account_erasures_due(now=deletion.erase_after + timedelta(seconds=1))
    client = Client()

    _sign_in(client, user.username)

    user.refresh_from_db()
    deletion.refresh_from_db()
    assert not user.is_active
    assert deletion.state == AccountDeletionRequest.State.FAILED
    assert client.get(reverse("accounts:profile"))["Location"].startswith(reverse("account_login"))


def test_a_user_deleted_outside_the_pipeline_shows_as_failed_never_as_done(
    member: User, django_capture_on_commit_callbacks: Any
) -> None:
    deletion = _request_deletion(member, django_capture_on_commit_callbacks)
    User.objects.filter(pk=member.pk).delete()  # e.g. by hand in the admin

    services.account_erasures_due(now=deletion.erase_after + timedelta(seconds=1))

    deletion.refresh_from_db()
    assert deletion.state == AccountDeletionRequest.State.FAILED
    assert {s.state for s in deletion.steps.all()} == {"failed"}
    assert "deleted outside the erasure pipeline" in deletion.steps.first().error  # type: ignore[union-attr]


def test_erasure_deletes_the_users_stored_sessions_even_the_ones_signed_in_elsewhere(
    member: User, django_capture_on_commit_callbacks: Any
) -> None:
    from accounts.models import UserSession as Session

    elsewhere = Client()
    _sign_in(elsewhere, member.username)  # allauth keeps the typed login in the session
    keep = Client()
    keep.force_login(UserFactory())
    ours = [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(member.pk)]
    assert ours
    assert member.username in json.dumps(ours[0].get_decoded())
    deletion = _request_deletion(member, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        services.account_erasures_due(now=deletion.erase_after + timedelta(seconds=1))

    remaining = [s.get_decoded() for s in Session.objects.all()]
    assert len(remaining) == 1
    assert all(d.get("_auth_user_id") != str(member.pk) for d in remaining)
    assert member.username not in json.dumps(remaining)


def test_a_run_already_in_progress_is_not_started_twice(member: User, django_capture_on_commit_callbacks: Any) -> None:
    deletion = _request_deletion(member, django_capture_on_commit_callbacks)
    now = deletion.erase_after + timedelta(seconds=1)
    AccountDeletionRequest.objects.filter(pk=deletion.pk).update(
        state=AccountDeletionRequest.State.ERASING, last_attempt_at=now - timedelta(minutes=1), attempts=1
    )

    services.account_erasure_run(request_id=deletion.pk, now=now)
    assert services.account_erasures_due(now=now) == 0

    deletion.refresh_from_db()
    assert (deletion.state, deletion.attempts) == (AccountDeletionRequest.State.ERASING, 1)
    assert User.objects.filter(pk=member.pk).exists()
    # ...but once the run is clearly dead (past the retry delay), the beat task takes it over
    with django_capture_on_commit_callbacks(execute=True):
        assert services.account_erasures_due(now=now + timedelta(minutes=31)) == 1
    assert not User.objects.filter(pk=member.pk).exists()


@pytest.mark.parametrize("model", ["dataexport", "accountdeletionrequest", "supportinquiry"])
def test_staff_see_the_requests_in_the_admin_without_changing_them(
    model: str, member: User, superuser_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    services.data_export_request(user=member)
    SupportInquiry.objects.create(name="Ada", email=member.email, topic="privacy", message="Hello")
    deletion = _request_deletion(member, django_capture_on_commit_callbacks)
    obj = {
        "dataexport": DataExport.objects.get(),
        "accountdeletionrequest": deletion,
        "supportinquiry": SupportInquiry.objects.get(),
    }[model]

    assert superuser_client.get(reverse(f"admin:accounts_{model}_changelist")).status_code == 200
    change = superuser_client.get(reverse(f"admin:accounts_{model}_change", args=[obj.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert superuser_client.get(reverse(f"admin:accounts_{model}_add")).status_code == 403
    assert superuser_client.post(reverse(f"admin:accounts_{model}_delete", args=[obj.pk])).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()
