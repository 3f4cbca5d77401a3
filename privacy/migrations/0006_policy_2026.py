import datetime

from django.db import migrations


def create(apps, schema_editor):
    """The 2026 version, material: adults accept it at their next sign-in; parents are asked when a privacy
    officer publishes it (the admin's "Publish" action, or manage.py policy_publish 2026-11-30)."""
    from privacy.policy_texts import SUMMARY_2026

    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    PolicyVersion.objects.get_or_create(
        version="2026-11-30",
        defaults={
            "effective_at": datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC),
            "material": True,
            "summary": SUMMARY_2026,
            "template_name": "privacy/policy_2026.html",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0005_data_request_cases")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
