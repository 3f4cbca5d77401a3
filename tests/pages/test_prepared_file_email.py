"""A file prepared in the background that took long (or failed) is announced by email to the person who asked, in
the file's language, with the link to its page; that link asks whoever is not signed in to sign in, then leads
back to the file. A quick file sends nothing: its page showed it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from mindomo.downloads.models import PreparedFile
from mindomo.downloads.services import prepared_file_build
from mindomo.outbox.models import Delivery
from mindomo.roles import BILLING_CLERK_GROUP
from tests.billing.helpers import paid_invoice
from tests.support.mfa import sign_in
from tests.support.roles import make_staff
from tests.support.smtp import SmtpSink, body_text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _ask(client: Client, capture: Any, *, execute: bool = True) -> PreparedFile:
    with capture(execute=execute):
        response = client.post(reverse("billing:invoice_zip"))
    prepared = PreparedFile.objects.get()
    assert response["Location"] == reverse("downloads:progress", args=[prepared.public_id])
    return prepared


def test_a_long_build_is_announced_once_by_email_with_a_link_that_leads_back_after_signing_in(
    member: User, settings: Any, smtp_sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS = 60
    paid_invoice(member)
    client = Client()
    client.force_login(member)
    client.cookies["django_language"] = "de"
    prepared = _ask(client, django_capture_on_commit_callbacks, execute=False)
    assert prepared.language == "de"
    # the page promises the email while the file is being prepared
    assert "innerhalb von 1 Minute" in client.get(reverse("downloads:progress", args=[prepared.public_id])).text
    # the job started late (a busy queue): more than the threshold after the ask
    PreparedFile.objects.filter(pk=prepared.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    prepared.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True):
        built = prepared_file_build(prepared_id=prepared.pk)
        prepared_file_build(prepared_id=prepared.pk)  # a second run of the same message changes nothing

    assert built is not None
    assert built.state == PreparedFile.State.READY
    delivery = Delivery.objects.get(kind="downloads.ready")
    assert (delivery.to_email, delivery.language) == (member.email, "de")
    message = smtp_sink.wait_for(to=member.email, subject_contains=prepared.download_name)
    assert "Ihre Datei ist fertig" in str(message["Subject"])
    text = body_text(message)
    link = f"{settings.SITE_URL.rstrip('/')}{reverse('downloads:progress', args=[prepared.public_id])}"
    assert link in text
    assert "24 Stunden" in text

    # the link, opened where nobody is signed in: the sign-in first, then the file's page
    path = reverse("downloads:progress", args=[prepared.public_id])
    anonymous = Client().get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"] == f"{reverse('account_login')}?next={path}"
    assert client.get(path).status_code == 200


def test_a_quick_build_sends_nothing(
    member: User, member_client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS = 60
    paid_invoice(member)

    prepared = _ask(member_client, django_capture_on_commit_callbacks)

    prepared.refresh_from_db()
    assert prepared.state == PreparedFile.State.READY
    assert not Delivery.objects.filter(kind__startswith="downloads.").exists()


def test_a_file_of_a_kind_no_longer_known_fails_without_an_email(
    member: User, member_client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS = 0
    paid_invoice(member)
    prepared = _ask(member_client, django_capture_on_commit_callbacks, execute=False)
    PreparedFile.objects.filter(pk=prepared.pk).update(kind="billing.no-such-kind-any-more")

    with django_capture_on_commit_callbacks(execute=True):
        built = prepared_file_build(prepared_id=prepared.pk)

    assert built is not None
    assert built.state == PreparedFile.State.FAILED
    # no page to link to (the kind is gone): nothing is sent, nothing breaks
    assert not Delivery.objects.filter(kind__startswith="downloads.").exists()


def test_a_build_refused_for_the_person_is_announced_with_the_reason_and_where_to_ask_again(
    member: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS = 0
    paid_invoice(member)
    staff = make_staff(BILLING_CLERK_GROUP)
    clerk = Client()
    sign_in(clerk, staff)
    year = timezone.localdate().year
    with django_capture_on_commit_callbacks(execute=False):
        clerk.post(reverse("billing:invoice_period"), {"start": f"{year}-01-01", "end": f"{year}-12-31"})
    prepared = PreparedFile.objects.get()
    staff.groups.clear()  # the clerk lost the billing role before the job ran

    with django_capture_on_commit_callbacks(execute=True):
        built = prepared_file_build(prepared_id=prepared.pk)

    assert built is not None
    assert built.state == PreparedFile.State.FAILED
    delivery = Delivery.objects.get(kind="downloads.failed")
    assert delivery.to_email == staff.email
    assert "could not be prepared" in delivery.subject
    assert "You no longer have the billing role." in delivery.text_body
    assert reverse("billing:invoice_period") in delivery.text_body


def test_an_account_without_an_address_is_not_emailed(
    member: User, member_client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.PREPARED_FILE_NOTIFY_AFTER_SECONDS = 0
    paid_invoice(member)
    prepared = _ask(member_client, django_capture_on_commit_callbacks, execute=False)
    User.objects.filter(pk=member.pk).update(email="")
    page = member_client.get(reverse("downloads:progress", args=[prepared.public_id])).text
    assert "we email you" not in page

    with django_capture_on_commit_callbacks(execute=True):
        built = prepared_file_build(prepared_id=prepared.pk)

    assert built is not None
    assert built.state == PreparedFile.State.READY
    assert not Delivery.objects.filter(kind__startswith="downloads.").exists()
