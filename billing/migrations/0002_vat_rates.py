"""The standard VAT rate of each EU member state (2025), editable in the admin afterwards."""

from decimal import Decimal

from django.db import migrations

STANDARD_RATES = {
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
}


def load(apps, schema_editor):
    VatRate = apps.get_model("billing", "VatRate")
    for country, rate in STANDARD_RATES.items():
        VatRate.objects.get_or_create(country=country, defaults={"rate": Decimal(rate)})


def unload(apps, schema_editor):
    apps.get_model("billing", "VatRate").objects.filter(country__in=list(STANDARD_RATES)).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
