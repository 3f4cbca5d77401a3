"""School and SchoolMembership moved to the schools app (their tables stay: state only). Runs after consent and
grading point their foreign keys at schools.School."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_user_language"),
        ("schools", "0001_initial"),
        ("consent", "0009_school_in_schools"),
        ("grading", "0002_schools_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SchoolMembership"),
                migrations.DeleteModel(name="School"),
            ],
            database_operations=[],
        ),
    ]
