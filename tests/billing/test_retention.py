"""Retention: invoices outlive the account (detached, snapshot intact) and are purged after retention only."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from accounts.models import User
from billing import services
from billing.models import BillingEvent, Invoice, Order
from billing.tasks import invoices_purge_task
from mindomo import privacy
from tests.accounts.factories import UserFactory
from tests.billing.helpers import paid_invoice
from tests.support.dbscan import tables_containing

pytestmark = pytest.mark.django_db


def age(invoice: Invoice, *, year: int) -> None:
    """Move an invoice into an earlier tax year (as if issued then)."""
    Invoice.objects.filter(pk=invoice.pk).update(
        year=year, issued_at=datetime.datetime(year, 6, 1, tzinfo=datetime.UTC)
    )


def test_deleting_the_account_detaches_the_invoice_and_keeps_its_snapshot(member: Any, erase_now: Any) -> None:
    invoice = paid_invoice(member)
    email, phone = member.email, invoice.billing_phone
    assert {"accounts_user", "billing_invoice"} <= set(tables_containing(email))
    assert Order.objects.exists()

    erase_now(member)

    invoice.refresh_from_db()
    assert not User.objects.filter(pk=member.pk).exists()
    assert invoice.user_id is None
    assert invoice.order_id is None
    assert (invoice.buyer_email, invoice.billing_phone, invoice.buyer_account_name) == (email, phone, "Ada Lovelace")
    assert not Order.objects.exists()  # the order (not required by tax law) is gone
    # the only place the email survives is the invoice kept under the legal duty
    assert set(tables_containing(email)) == {"billing_invoice"}


def test_deleting_a_user_row_directly_also_keeps_the_invoice_and_drops_the_order(member: Any) -> None:
    invoice = paid_invoice(member)

    User.objects.filter(pk=member.pk).delete()

    invoice.refresh_from_db()
    assert invoice.user_id is None
    assert invoice.billing_full_name
    assert not Order.objects.exists()


def test_export_lists_orders_and_invoices(member: Any) -> None:
    invoice = paid_invoice(member)

    exported = privacy.registry.export_user(member)["billing"]

    assert [i["number"] for i in exported["invoices"]] == [invoice.number]
    assert exported["orders"][0]["card_last4"] == "1111"


def test_declarations_state_the_retention() -> None:
    provider = privacy.registry.get("billing")
    models = {d.model: str(d.retention) for d in provider.declarations()}
    assert "10 years after the end of the invoice's tax year" in models["billing.Invoice"]


def test_purge_removes_only_invoices_past_retention(member: Any, settings: Any) -> None:
    settings.INVOICE_RETENTION_YEARS = 10
    this_year = timezone.localdate().year
    expired = paid_invoice(member)
    age(expired, year=this_year - 11)  # retention ended on 31 Dec of (year + 10), i.e. last year
    last_kept = paid_invoice(member)
    age(last_kept, year=this_year - 10)  # retention ends on 31 Dec this year
    current = paid_invoice(UserFactory())
    orders = Order.objects.count()

    result = services.invoices_purge(batch_size=1)

    assert result.deleted == 1
    assert set(Invoice.objects.values_list("pk", flat=True)) == {last_kept.pk, current.pk}
    assert Order.objects.count() == orders
    assert User.objects.filter(pk=member.pk).exists()


def test_purge_of_a_detached_invoice_after_account_deletion(member: Any, erase_now: Any) -> None:
    invoice = paid_invoice(member)
    email = member.email
    erase_now(member)
    age(invoice, year=timezone.localdate().year - 11)
    assert set(tables_containing(email)) == {"billing_invoice"}

    invoices_purge_task.delay()

    assert not Invoice.objects.exists()
    assert tables_containing(email) == {}


def test_purge_keeps_a_credit_note_whose_invoice_is_purged(member: Any, settings: Any) -> None:
    invoice = paid_invoice(member)
    credit = services._credit(invoice=invoice, order=invoice.order, actor=None, detail="test")
    age(invoice, year=timezone.localdate().year - 11)

    services.invoices_purge()

    credit.refresh_from_db()
    assert credit.credited_invoice_id is None
    assert credit.credited_invoice_number == invoice.number


def test_dry_run_lists_and_deletes_nothing(member: Any) -> None:
    expired = paid_invoice(member)
    age(expired, year=timezone.localdate().year - 20)
    kept = paid_invoice(member)
    out = StringIO()

    call_command("purge_invoices", "--dry-run", stdout=out)

    assert expired.number in out.getvalue()
    assert kept.number not in out.getvalue()
    assert "1 invoice(s)" in out.getvalue()
    assert Invoice.objects.count() == 2


def test_an_issued_invoice_cannot_be_edited(member: Any) -> None:
    invoice = paid_invoice(member)
    invoice.total = Decimal("0.00")

    with pytest.raises(ValidationError, match="never edited"):
        invoice.save()

    assert Invoice.objects.get(pk=invoice.pk).total > 0


def test_the_retention_engine_purges_exactly_what_its_dry_run_lists(member: Any, settings: Any) -> None:
    from privacy.services import retention_apply

    settings.INVOICE_RETENTION_YEARS = 10
    this_year = timezone.localdate().year
    expired = [paid_invoice(member), paid_invoice(UserFactory())]
    for invoice in expired:
        age(invoice, year=this_year - 12)
    kept = paid_invoice(member)
    now = timezone.now()

    (dry,) = retention_apply(now=now, dry_run=True, rules=["billing.invoices"])
    assert set(dry.pks) == {i.pk for i in expired}
    assert Invoice.objects.count() == 3

    (real,) = retention_apply(now=now, batch_size=1, rules=["billing.invoices"])
    assert real.count == 2
    assert list(Invoice.objects.values_list("pk", flat=True)) == [kept.pk]


def test_purge_runs_in_keyset_batches_with_one_audit_row_each(member: Any, settings: Any) -> None:
    settings.INVOICE_RETENTION_YEARS = 10
    this_year = timezone.localdate().year
    expired = [paid_invoice(member) for _ in range(5)]
    for n, invoice in enumerate(expired):
        age(invoice, year=this_year - 11 - n % 2)  # two tax years, interleaved ids: (year, id) order
    kept = paid_invoice(member)
    events = BillingEvent.objects.filter(kind=BillingEvent.Kind.INVOICES_PURGED)
    assert not events.exists()

    result = services.invoices_purge(batch_size=2)

    assert result.deleted == 5
    assert list(Invoice.objects.values_list("pk", flat=True)) == [kept.pk]
    assert sorted(events.values_list("detail", flat=True)) == [
        "1 invoices past their retention",
        "2 invoices past their retention",
        "2 invoices past their retention",
    ]
    assert services.invoices_purge(batch_size=2).deleted == 0
    assert events.count() == 3
