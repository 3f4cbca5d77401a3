# The batch entries' subject index also covers a school's consent for many children and the parents' addresses
# it gave with them (one ledger entry per batch of a OneRoster import: consent.services.consent_records_school),
# so a child's history and its proof find them the way they find reminders.

from django.db import migrations

OLD = (
    "CREATE INDEX consent_ledger_batch_subjects ON consent_ledgerentry "
    "USING gin ((detail -> 'subjects') jsonb_path_ops) WHERE subject = '' AND kind = 'reminded'"
)
NEW = (
    "CREATE INDEX consent_ledger_batch_subjects ON consent_ledgerentry "
    "USING gin ((detail -> 'subjects') jsonb_path_ops) "
    "WHERE subject = '' AND kind IN ('reminded', 'granted', 'guardian_added')"
)


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0016_ledger_disclosed"),
    ]

    operations = [
        migrations.RunSQL(
            ["DROP INDEX consent_ledger_batch_subjects", NEW],
            ["DROP INDEX consent_ledger_batch_subjects", OLD],
        ),
    ]
