"""The standard VAT rate of each EU member state (billing.reference_data, the one table), editable in the admin
afterwards. Imported inside the functions, as consent's reference data: the table is data this migration loads."""

from django.db import migrations


def load(apps, schema_editor):
    from billing.reference_data import STANDARD_RATES

    VatRate = apps.get_model("billing", "VatRate")
    for country, rate in STANDARD_RATES.items():
        VatRate.objects.get_or_create(country=country, defaults={"rate": rate})


def unload(apps, schema_editor):
    from billing.reference_data import STANDARD_RATES

    apps.get_model("billing", "VatRate").objects.filter(country__in=list(STANDARD_RATES)).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
