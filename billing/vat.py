"""VAT: EU VAT ID formats, the rate to charge and reverse charge. Rates live in the VatRate table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .models import VatRate
from .reference_data import STANDARD_RATES

# Country code -> (VAT prefix, pattern of what follows the prefix). Greece uses the prefix EL.
EU_VAT_FORMATS: dict[str, tuple[str, str]] = {
    "AT": ("AT", r"U[0-9]{8}"),
    "BE": ("BE", r"[01][0-9]{9}"),
    "BG": ("BG", r"[0-9]{9,10}"),
    "CY": ("CY", r"[0-9]{8}[A-Z]"),
    "CZ": ("CZ", r"[0-9]{8,10}"),
    "DE": ("DE", r"[0-9]{9}"),
    "DK": ("DK", r"[0-9]{8}"),
    "EE": ("EE", r"[0-9]{9}"),
    "GR": ("EL", r"[0-9]{9}"),
    "ES": ("ES", r"[0-9A-Z][0-9]{7}[0-9A-Z]"),
    "FI": ("FI", r"[0-9]{8}"),
    "FR": ("FR", r"[0-9A-HJ-NP-Z]{2}[0-9]{9}"),
    "HR": ("HR", r"[0-9]{11}"),
    "HU": ("HU", r"[0-9]{8}"),
    "IE": ("IE", r"[0-9][0-9A-Z+*][0-9]{5}[A-Z]{1,2}"),
    "IT": ("IT", r"[0-9]{11}"),
    "LT": ("LT", r"([0-9]{9}|[0-9]{12})"),
    "LU": ("LU", r"[0-9]{8}"),
    "LV": ("LV", r"[0-9]{11}"),
    "MT": ("MT", r"[0-9]{8}"),
    "NL": ("NL", r"[0-9]{9}B[0-9]{2}"),
    "PL": ("PL", r"[0-9]{10}"),
    "PT": ("PT", r"[0-9]{9}"),
    "RO": ("RO", r"[0-9]{2,10}"),
    "SE": ("SE", r"[0-9]{10}01"),
    "SI": ("SI", r"[0-9]{8}"),
    "SK": ("SK", r"[0-9]{10}"),
}
EU_COUNTRIES = frozenset(EU_VAT_FORMATS)
# The standard rates (billing.reference_data, the one table the data migration loads into VatRate): the defaults when
# the VatRate table (edited by staff in the admin) has no row for a country, so an EU sale never goes out without
# VAT because a row is missing.
EU_STANDARD_RATES = STANDARD_RATES
CENT = Decimal("0.01")


def normalize_vat_id(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value or "").upper()


def validate_vat_id(*, vat_id: str, country: str) -> str:
    """The normalised VAT ID, or ValidationError if it does not fit the format of ``country``'s VAT IDs."""
    vat_id = normalize_vat_id(vat_id)
    if not vat_id:
        return ""
    if country not in EU_VAT_FORMATS:
        raise ValidationError(_("VAT IDs are only recorded for buyers in the European Union."), code="vat_country")
    prefix, pattern = EU_VAT_FORMATS[country]
    if not vat_id.startswith(prefix):
        raise ValidationError(
            _("A VAT ID from this country starts with %(prefix)s.") % {"prefix": prefix}, code="vat_prefix"
        )
    if not re.fullmatch(pattern, vat_id[len(prefix) :]):
        raise ValidationError(_("This is not a valid VAT ID for the selected country."), code="vat_format")
    return vat_id


@dataclass(frozen=True)
class Price:
    net: Decimal
    vat_rate: Decimal
    vat: Decimal
    total: Decimal
    reverse_charge: bool


@dataclass(frozen=True)
class Rate:
    percent: Decimal
    reverse_charge: bool = False

    def apply(self, net: Decimal) -> Price:
        vat = (net * self.percent / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
        return Price(net, self.percent, vat, net + vat, self.reverse_charge)


def rate_for(*, country: str, vat_id: str = "") -> Rate:
    """VAT by the buyer's country: EU consumers pay their country's rate (OSS); a business with a valid
    EU VAT ID outside the seller's country gets reverse charge; buyers outside the EU pay no EU VAT."""
    zero = Decimal("0.00")
    if country not in EU_COUNTRIES:
        return Rate(zero)
    if vat_id and country != settings.SELLER_COUNTRY:
        return Rate(zero, reverse_charge=True)
    rate = VatRate.objects.filter(country=country).values_list("rate", flat=True).first()
    return Rate(rate if rate is not None else EU_STANDARD_RATES[country])


def price_for(*, net: Decimal, country: str, vat_id: str = "") -> Price:
    return rate_for(country=country, vat_id=vat_id).apply(net)
