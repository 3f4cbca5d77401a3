"""The standard VAT rate of each EU member state (2025): the one table. The data migration loads it into
``billing.VatRate`` (which staff edit in the admin); ``billing.vat`` falls back to it for a country without a row."""

from decimal import Decimal

STANDARD_RATES: dict[str, Decimal] = {
    country: Decimal(rate)
    for country, rate in {
        "AT": "20",
        "BE": "21",
        "BG": "20",
        "CY": "19",
        "CZ": "21",
        "DE": "19",
        "DK": "25",
        "EE": "24",
        "ES": "21",
        "FI": "25.5",
        "FR": "20",
        "GR": "24",
        "HR": "25",
        "HU": "27",
        "IE": "23",
        "IT": "22",
        "LT": "21",
        "LU": "17",
        "LV": "21",
        "MT": "18",
        "NL": "21",
        "PL": "23",
        "PT": "23",
        "RO": "21",
        "SE": "25",
        "SI": "22",
        "SK": "23",
    }.items()
}
