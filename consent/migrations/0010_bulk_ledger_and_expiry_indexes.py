# The ledger's hash unique through a constraint (no varchar_pattern_ops index), the ledger's subject index and
# the batch entries' subject index, and the expiry's keyset index on pending sign-ups (mindomo.bulk).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0009_school_in_schools"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ledgerentry",
            name="hash",
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name="pendingsignup",
            name="expires_at",
            field=models.DateTimeField(verbose_name="expires at"),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["subject", "seq"], name="consent_ledger_subject_seq"),
        ),
        # A batch entry's detail (10,000 pseudonyms: random hex, which hardly compresses) is stored without
        # pglz compression, which cost more than the DELETE of the batch it records.
        migrations.RunSQL(
            "ALTER TABLE consent_ledgerentry ALTER COLUMN detail SET STORAGE EXTERNAL",
            "ALTER TABLE consent_ledgerentry ALTER COLUMN detail SET STORAGE EXTENDED",
        ),
        # Reminder batch entries of the ledger by a subject they name (a child's history in the portal shows
        # its reminder). Expiry batches are left out: their subjects are looked up only to prove one
        # expiry, and the index would cost each batch of 10,000 more than its DELETE.
        migrations.RunSQL(
            "CREATE INDEX consent_ledger_batch_subjects ON consent_ledgerentry "
            "USING gin ((detail -> 'subjects') jsonb_path_ops) WHERE subject = '' AND kind = 'reminded'",
            "DROP INDEX consent_ledger_batch_subjects",
        ),
        migrations.AddIndex(
            model_name="pendingsignup",
            index=models.Index(fields=["expires_at", "id"], name="consent_pending_expiry_key"),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.UniqueConstraint(fields=("hash",), name="consent_ledger_hash_unique"),
        ),
    ]
