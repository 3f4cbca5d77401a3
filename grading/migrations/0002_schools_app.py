"""SchoolStudentAccount and TeacherInvitation moved to the schools app (their tables stay: state only), and
SchoolClass.school names schools.School (the same table, accounts_school)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("grading", "0001_initial"),
        ("schools", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="schoolclass",
                    name="school",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="classes", to="schools.school"
                    ),
                ),
                migrations.DeleteModel(name="SchoolStudentAccount"),
                migrations.DeleteModel(name="TeacherInvitation"),
            ],
            database_operations=[],
        ),
    ]
