from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from billing import vat
from billing.models import VatRate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("vat_id", "country", "expected"),
    [
        ("de 123 456 789", "DE", "DE123456789"),
        ("EL123456789", "GR", "EL123456789"),
        ("NL123456789B01", "NL", "NL123456789B01"),
        ("FRXX123456789", "FR", "FRXX123456789"),
        ("ATU12345678", "AT", "ATU12345678"),
        ("", "US", ""),
    ],
)
def test_valid_vat_ids_are_normalised(vat_id: str, country: str, expected: str) -> None:
    assert vat.validate_vat_id(vat_id=vat_id, country=country) == expected


@pytest.mark.parametrize(
    ("vat_id", "country", "code"),
    [
        ("FR12345678901", "DE", "vat_prefix"),
        ("GR123456789", "GR", "vat_prefix"),
        ("DE12345678", "DE", "vat_format"),
        ("NL123456789A01", "NL", "vat_format"),
        ("US123", "US", "vat_country"),
    ],
)
def test_invalid_vat_ids_are_refused(vat_id: str, country: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        vat.validate_vat_id(vat_id=vat_id, country=country)
    assert info.value.code == code


def test_eu_consumer_pays_their_countrys_rate() -> None:
    price = vat.price_for(net=Decimal("100.00"), country="DE")
    assert (price.vat_rate, price.vat, price.total, price.reverse_charge) == (
        Decimal("19.00"),
        Decimal("19.00"),
        Decimal("119.00"),
        False,
    )


def test_eu_business_outside_the_sellers_country_gets_reverse_charge(settings: object) -> None:
    price = vat.price_for(net=Decimal("100.00"), country="DE", vat_id="DE123456789")
    assert (price.vat, price.total, price.reverse_charge) == (Decimal("0.00"), Decimal("100.00"), True)


def test_business_in_the_sellers_country_pays_local_vat(settings: object) -> None:
    price = vat.price_for(net=Decimal("100.00"), country="RO", vat_id="RO1234567")
    assert (price.vat_rate, price.total, price.reverse_charge) == (Decimal("21.00"), Decimal("121.00"), False)


def test_buyer_outside_the_eu_pays_no_vat() -> None:
    price = vat.price_for(net=Decimal("100.00"), country="US")
    assert (price.vat, price.total) == (Decimal("0.00"), Decimal("100.00"))


def test_vat_is_rounded_half_up_to_the_cent() -> None:
    assert vat.price_for(net=Decimal("9.99"), country="HU").vat == Decimal("2.70")  # 2.6973


def test_the_rate_table_edited_by_staff_wins_over_the_default() -> None:
    VatRate.objects.update_or_create(country="DE", defaults={"rate": Decimal("16.00")})

    price = vat.price_for(net=Decimal("100.00"), country="DE")

    assert (price.vat_rate, price.total) == (Decimal("16.00"), Decimal("116.00"))


def test_a_missing_row_falls_back_to_the_standard_rate() -> None:
    VatRate.objects.filter(country="FR").delete()

    assert vat.price_for(net=Decimal("100.00"), country="FR").vat == Decimal("20.00")


def test_the_data_migration_loads_every_eu_country_at_the_standard_rate() -> None:
    migration = importlib.import_module("billing.migrations.0002_vat_rates")
    VatRate.objects.all().delete()

    migration.load(apps, None)

    loaded = dict(VatRate.objects.values_list("country", "rate"))
    assert set(loaded) == vat.EU_COUNTRIES
    assert loaded == vat.EU_STANDARD_RATES
