"""0002 wrote the site row with an explicit id, so PostgreSQL's sequence still pointed at 1: the next site added
in the admin collided with it (a 500). Move the sequence past the rows that exist."""

from django.core.management.color import no_style
from django.db import migrations


def reset_site_sequence(apps, schema_editor):
    connection = schema_editor.connection if schema_editor is not None else None
    if connection is None:
        from django.db import connection
    Site = apps.get_model("sites", "Site")
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Site]):
            cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_data_subject_rights"),
        ("sites", "0002_alter_domain_unique"),
    ]

    operations = [migrations.RunPython(reset_site_sequence, migrations.RunPython.noop)]
