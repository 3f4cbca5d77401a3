"""ConsentRecord.school now names schools.School: the same table (accounts_school), so state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0008_ledger_guardian_removed"),
        ("schools", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="consentrecord",
                    name="school",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="consent_records",
                        to="schools.school",
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
