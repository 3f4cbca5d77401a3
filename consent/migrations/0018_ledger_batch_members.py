# A compact batch entry (the expiry's) keeps its subjects packed in a column of their own, outside the hashed
# content (its detail holds their Merkle root): 160 KB of bytes for 10,000 pseudonyms instead of 370 KB of JSON
# parsed, hashed and written. Random bytes do not compress: stored as they are (EXTERNAL). Older batch entries keep
# their subjects in detail and stay provable as they were.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0017_ledger_school_batch_subjects"),
    ]

    operations = [
        migrations.AddField(
            model_name="ledgerentry",
            name="members",
            field=models.BinaryField(blank=True, editable=False, null=True),
        ),
        migrations.RunSQL(
            "ALTER TABLE consent_ledgerentry ALTER COLUMN members SET STORAGE EXTERNAL",
            migrations.RunSQL.noop,
        ),
    ]
