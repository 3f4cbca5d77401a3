"""Invoices in bulk: the account holder's "all my invoices" (or one tax year) and the billing clerk's invoices of a
period, each one zip of PDFs prepared by a background job (mindomo.downloads). Only the owner, only the billing
role; invoices past their retention are left out; the PDFs in the language of the person who asked."""

from __future__ import annotations

import datetime
import io
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import User
from billing.models import BillingEvent, Invoice
from mindomo.downloads.models import PreparedFile
from mindomo.roles import BILLING_CLERK_GROUP
from privacy.models import AccessLog
from tests.billing.helpers import paid_invoice
from tests.support.mfa import sign_in
from tests.support.roles import make_staff

pytestmark = pytest.mark.django_db

FILE_PAGES = ["downloads:progress", "downloads:status", "downloads:download"]


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _ask(client: Client, url: str, capture: Any, data: dict[str, str] | None = None) -> PreparedFile:
    with capture(execute=True):  # the job runs at the commit (Celery is eager in tests)
        response = client.post(url, data or {})
    prepared = PreparedFile.objects.order_by("-pk").first()
    assert prepared is not None
    assert response.status_code == 302
    assert response["Location"] == reverse("downloads:progress", args=[prepared.public_id])
    return prepared


def _zip(client: Client, prepared: PreparedFile) -> zipfile.ZipFile:
    status = client.get(reverse("downloads:status", args=[prepared.public_id])).json()
    assert status["state"] == "ready", status
    response = client.get(status["link_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _text(archive: zipfile.ZipFile, name: str) -> str:
    return PdfReader(io.BytesIO(archive.read(name))).pages[0].extract_text()


def _past_retention(invoice: Invoice, settings: Any) -> Invoice:
    """An invoice whose retention ended but which the monthly purge has not deleted yet."""
    old = timezone.localdate().year - settings.INVOICE_RETENTION_YEARS - 1
    Invoice.objects.filter(pk=invoice.pk).update(year=old, issued_at=invoice.issued_at.replace(year=old))
    invoice.refresh_from_db()
    return invoice


# --- the account holder ---------------------------------------------------------------------------------------
def test_the_owner_downloads_all_their_invoices_as_one_zip_in_their_language(
    member: User, member_client: Client, other_member: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mine = [paid_invoice(member, price=price) for price in ("10.00", "20.00", "30.00")]
    expired = _past_retention(paid_invoice(member), settings)
    theirs = paid_invoice(other_member)
    page = member_client.get(reverse("billing:invoice_list")).content.decode()
    assert reverse("billing:invoice_zip") in page

    prepared = _ask(member_client, reverse("billing:invoice_zip"), django_capture_on_commit_callbacks)
    assert member_client.get(reverse("billing:invoice_zip")).status_code == 405  # asking is a POST

    archive = _zip(member_client, prepared)
    assert sorted(archive.namelist()) == sorted(f"{i.number}.pdf" for i in mine)
    assert f"{expired.number}.pdf" not in archive.namelist()  # past retention: never handed out again
    assert f"{theirs.number}.pdf" not in archive.namelist()
    assert f"Invoice {mine[0].number}" in _text(archive, f"{mine[0].number}.pdf")
    assert prepared.download_name == "invoices-all.zip"


def test_the_zip_is_drawn_in_the_language_the_owner_asked_in(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    invoice = paid_invoice(member, price="60.00")
    member_client.cookies["django_language"] = "de"

    prepared = _ask(member_client, reverse("billing:invoice_zip"), django_capture_on_commit_callbacks)

    assert prepared.language == "de"
    text = _text(_zip(member_client, prepared), f"{invoice.number}.pdf")
    assert f"Rechnung {invoice.number}" in text
    assert "60,00" in text  # the German number format, as the single PDF in German


def test_one_tax_year_only(member: User, member_client: Client, django_capture_on_commit_callbacks: Any) -> None:
    this_year = paid_invoice(member)
    last_year = paid_invoice(member)
    Invoice.objects.filter(pk=last_year.pk).update(year=this_year.year - 1)
    page = member_client.get(reverse("billing:invoice_list")).content.decode()
    assert f'<option value="{this_year.year - 1}">' in page

    prepared = _ask(
        member_client, reverse("billing:invoice_zip"), django_capture_on_commit_callbacks, {"year": str(this_year.year)}
    )

    assert _zip(member_client, prepared).namelist() == [f"{this_year.number}.pdf"]
    assert prepared.download_name == f"invoices-{this_year.year}.zip"


def test_nothing_to_download_starts_no_job(member: User, member_client: Client) -> None:
    paid_invoice(member)
    response = member_client.post(reverse("billing:invoice_zip"), {"year": "1999"}, follow=True)
    assert "There are no invoices to download." in response.content.decode()
    assert not PreparedFile.objects.exists()


def test_a_double_submit_makes_one_job(
    member: User, member_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    paid_invoice(member)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = member_client.post(reverse("billing:invoice_zip"))
        second = member_client.post(reverse("billing:invoice_zip"))
    assert first["Location"] == second["Location"]
    assert PreparedFile.objects.count() == 1
    assert len(callbacks) == 1  # one build enqueued


@pytest.mark.parametrize(
    ("role", "status"), [("anonymous", 302), ("owner", 302), ("other_adult", 302), ("superuser", 302)]
)
def test_asking_matrix_each_asks_only_for_their_own(
    member: User, role: str, status: int, client_as: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Anyone signed in may ask, but only ever for their own invoices: another adult's ask finds none."""
    paid_invoice(member)
    if role == "owner":
        client = Client()
        client.force_login(member)
    else:
        client, _ = client_as("adult" if role == "other_adult" else role)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("billing:invoice_zip"))
    assert response.status_code == status
    if role == "anonymous":
        assert "/accounts/login/" in response["Location"]
    assert PreparedFile.objects.count() == (1 if role == "owner" else 0)


@pytest.mark.parametrize("viewer", ["anonymous", "other_adult", "superuser", "billing_clerk"])
@pytest.mark.parametrize("name", FILE_PAGES)
def test_nobody_but_the_owner_sees_the_progress_the_status_or_the_zip(
    viewer: str, name: str, member: User, member_client: Client, client_as: Any, django_capture_on_commit_callbacks: Any
) -> None:
    paid_invoice(member)
    prepared = _ask(member_client, reverse("billing:invoice_zip"), django_capture_on_commit_callbacks)
    client, _ = client_as("adult" if viewer == "other_adult" else viewer)

    response = client.get(reverse(name, args=[prepared.public_id]))
    if name == "downloads:progress" and viewer == "anonymous":  # the emailed link: sign in first, then back here
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login") + "?next=")
    else:
        assert response.status_code == 404
    assert member_client.get(reverse(name, args=[prepared.public_id])).status_code == 200


@pytest.mark.parametrize("public_id", [str(uuid.uuid4()), "00000000-0000-0000-0000-000000000000"])
@pytest.mark.parametrize("name", FILE_PAGES)
def test_a_tampered_or_unknown_id_is_not_found(
    public_id: str, name: str, member: User, member_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    paid_invoice(member)
    _ask(member_client, reverse("billing:invoice_zip"), django_capture_on_commit_callbacks)
    assert member_client.get(reverse(name, args=[public_id])).status_code == 404
    assert member_client.get(f"/files/{public_id[:-1]}x/").status_code == 404


# --- the billing clerk: the invoices of a period --------------------------------------------------------------
def _issued_on(invoice: Invoice, day: datetime.date) -> Invoice:
    moment = datetime.datetime.combine(day, datetime.time(12), tzinfo=datetime.UTC)
    Invoice.objects.filter(pk=invoice.pk).update(issued_at=moment, year=day.year)
    invoice.refresh_from_db()
    return invoice


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("anonymous", 302),
        ("adult", 403),
        ("support", 403),
        ("privacy_officer", 403),
        ("staff_without_role", 403),
        ("billing_clerk", 200),
        ("superuser", 200),
    ],
)
def test_period_page_matrix_only_the_billing_role(role: str, status: int, client_as: Any) -> None:
    client, _ = client_as(role)

    page = client.get(reverse("billing:invoice_period"))
    posted = client.post(reverse("billing:invoice_period"), {"start": "2026-01-01", "end": "2026-03-31"})

    assert page.status_code == status
    assert posted.status_code == (400 if status == 200 else status)  # allowed: no invoices in that quarter
    assert not PreparedFile.objects.exists()
    assert not BillingEvent.objects.filter(kind=BillingEvent.Kind.INVOICES_DOWNLOADED).exists()


def test_the_clerk_downloads_a_quarter_of_every_buyers_invoices(
    member: User, other_member: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    year = timezone.localdate().year
    inside = [
        _issued_on(paid_invoice(member), datetime.date(year, 1, 1)),
        _issued_on(paid_invoice(other_member), datetime.date(year, 3, 31)),
    ]
    _issued_on(paid_invoice(member), datetime.date(year, 4, 1))  # the next quarter
    _issued_on(paid_invoice(member), datetime.date(year - 1, 12, 31))  # the previous one
    clerk = Client()
    sign_in(clerk, make_staff(BILLING_CLERK_GROUP))
    changelist = clerk.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert reverse("billing:invoice_period") in changelist

    prepared = _ask(
        clerk,
        reverse("billing:invoice_period"),
        django_capture_on_commit_callbacks,
        {"start": f"{year}-01-01", "end": f"{year}-03-31"},
    )

    archive = _zip(clerk, prepared)
    assert sorted(archive.namelist()) == sorted(f"{i.number}.pdf" for i in inside)
    event = BillingEvent.objects.get(kind=BillingEvent.Kind.INVOICES_DOWNLOADED)  # who asked, for what: audited
    assert (event.actor_id, event.detail) == (prepared.user_id, f"{year}-01-01 to {year}-03-31: 2 invoices")
    assert prepared.download_name == f"invoices-{year}-01-01-{year}-03-31.zip"
    assert member.email in _text(archive, f"{inside[0].number}.pdf")
    # each buyer's invoice taken away is in the access log, by whose it is (what a privacy officer reads)
    taken = set(AccessLog.objects.filter(staff_id=prepared.user_id).values_list("action", "object_id", "subject_id"))
    assert taken == {("export", str(inside[0].pk), member.pk), ("export", str(inside[1].pk), other_member.pk)}


def test_the_period_leaves_out_invoices_past_retention(
    member: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    old = timezone.localdate().year - settings.INVOICE_RETENTION_YEARS - 1
    _issued_on(paid_invoice(member), datetime.date(old, 5, 5))
    clerk = Client()
    sign_in(clerk, make_staff(BILLING_CLERK_GROUP))

    response = clerk.post(reverse("billing:invoice_period"), {"start": f"{old}-01-01", "end": f"{old}-12-31"})

    assert response.status_code == 400
    assert "No invoices were issued in this period." in response.content.decode()
    assert not PreparedFile.objects.exists()


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("2026-03-01", "2026-02-01", "The period ends before it starts."),
        ("2024-01-01", "2025-06-30", "Choose a period of at most one year."),
        ("2026-02-30", "2026-03-01", "Enter a valid date."),
    ],
)
def test_a_bad_period_is_refused_with_a_message(start: str, end: str, error: str) -> None:
    clerk = Client()
    sign_in(clerk, make_staff(BILLING_CLERK_GROUP))
    response = clerk.post(reverse("billing:invoice_period"), {"start": start, "end": end})
    assert response.status_code == 400
    assert error in response.content.decode()


@pytest.mark.parametrize("viewer", ["other_clerk", "owner_of_an_invoice", "support", "clerk_without_the_role"])
@pytest.mark.parametrize("name", FILE_PAGES)
def test_only_the_clerk_who_asked_while_in_the_role_sees_the_period_zip(
    viewer: str, name: str, member: User, client_as: Any, django_capture_on_commit_callbacks: Any
) -> None:
    day = timezone.localdate()
    _issued_on(paid_invoice(member), day)
    asker = make_staff(BILLING_CLERK_GROUP)
    clerk = Client()
    sign_in(clerk, asker)
    prepared = _ask(
        clerk,
        reverse("billing:invoice_period"),
        django_capture_on_commit_callbacks,
        {"start": day.isoformat(), "end": day.isoformat()},
    )
    if viewer == "other_clerk":
        client, _ = client_as("billing_clerk")
    elif viewer == "support":
        client, _ = client_as("support")
    elif viewer == "owner_of_an_invoice":
        client = Client()
        client.force_login(member)
    else:
        asker.groups.clear()
        client = clerk

    assert client.get(reverse(name, args=[prepared.public_id])).status_code == 404
    if viewer != "clerk_without_the_role":
        assert clerk.get(reverse(name, args=[prepared.public_id])).status_code == 200


def test_a_file_whose_job_was_lost_does_not_block_asking_again(
    member: User, member_client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A file still waiting after twice the task time limit lost its job's message: a new ask starts a new job."""
    paid_invoice(member)
    with django_capture_on_commit_callbacks(execute=False):
        member_client.post(reverse("billing:invoice_zip"))
    lost = datetime.timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT + 1)
    PreparedFile.objects.update(created_at=timezone.now() - lost)

    prepared = _ask(member_client, reverse("billing:invoice_zip"), django_capture_on_commit_callbacks)

    assert PreparedFile.objects.count() == 2
    assert PreparedFile.objects.exclude(pk=prepared.pk).get().state == "pending"  # the lost one
    assert len(_zip(member_client, prepared).namelist()) == 1
