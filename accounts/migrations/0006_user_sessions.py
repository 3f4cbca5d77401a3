"""Sessions move to accounts.UserSession, stored with their user's id (SESSION_ENGINE "accounts.sessions").

The sessions of Django's table are carried over (decoded once, here, to find their user), then deleted there:
nobody is signed out by the move, and nothing personal stays behind in the old table.
"""

from django.db import migrations, models

BATCH = 1000


def move_sessions(apps, schema_editor):
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.backends.base import SessionBase

    Old = apps.get_model("sessions", "Session")
    New = apps.get_model("accounts", "UserSession")
    decoder = SessionBase()
    batch = []
    for old in Old.objects.order_by("pk").iterator(chunk_size=BATCH):
        try:
            user_id = int(decoder.decode(old.session_data).get(SESSION_KEY))
        except (TypeError, ValueError):
            user_id = None
        batch.append(
            New(
                session_key=old.session_key, session_data=old.session_data, expire_date=old.expire_date, user_id=user_id
            )
        )
        if len(batch) >= BATCH:
            New.objects.bulk_create(batch, ignore_conflicts=True)
            batch = []
    New.objects.bulk_create(batch, ignore_conflicts=True)
    Old.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_site_sequence"),
        ("sessions", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="UserSession",
            fields=[
                (
                    "session_key",
                    models.CharField(max_length=40, primary_key=True, serialize=False, verbose_name="session key"),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                ("user_id", models.BigIntegerField(blank=True, db_index=True, null=True, verbose_name="user id")),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "abstract": False,
            },
        ),
        migrations.RunPython(move_sessions, migrations.RunPython.noop),
    ]
