from django.db import migrations


def load_reference_data(apps, schema_editor):
    from consent import reference_data

    reference_data.load(apps.get_model("consent", "AgeRule"), apps.get_model("consent", "ThirdParty"))


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [migrations.RunPython(load_reference_data, migrations.RunPython.noop)]
