import datetime

from django.db import migrations

ROLE_GROUPS = ["Support", "Billing clerk", "Privacy officer"]


def create(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)
    # Permissions are granted after every migrate (privacy.services.staff_roles_sync), once they exist.
    PolicyVersion = apps.get_model("privacy", "PolicyVersion")
    PolicyVersion.objects.get_or_create(
        version="2018-05-24",
        defaults={
            "effective_at": datetime.datetime(2018, 5, 24, tzinfo=datetime.UTC),
            "material": False,
            "summary": "The privacy policy as published on May 24, 2018.",
            "template_name": "pages/privacy_policy.html",
        },
    )


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
