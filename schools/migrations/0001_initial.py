"""The schools app takes over four models: School and SchoolMembership from accounts, SchoolStudentAccount and
TeacherInvitation from grading. Their tables keep their names (db_table), so this migration changes Django's
state only: no table is created, no row copied. The content types (and with them the permissions granted to
staff roles and the admin's history) are renamed to the new app, and back when the migration is reversed."""

import django.db.models.deletion
import django_countries.fields
from django.conf import settings
from django.db import migrations, models

MOVED = [
    ("accounts", "school"),
    ("accounts", "schoolmembership"),
    ("grading", "schoolstudentaccount"),
    ("grading", "teacherinvitation"),
]


def _rename_content_types(apps, *, forward):
    content_type = apps.get_model("contenttypes", "ContentType")
    for old_app, model in MOVED:
        source, target = (old_app, "schools") if forward else ("schools", old_app)
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def content_types_forward(apps, schema_editor):
    _rename_content_types(apps, forward=True)


def content_types_backward(apps, schema_editor):
    _rename_content_types(apps, forward=False)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0008_user_language"),
        ("grading", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="School",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=200, verbose_name="name")),
                        ("country", django_countries.fields.CountryField(max_length=2, verbose_name="country")),
                        (
                            "contact_email",
                            models.EmailField(
                                help_text="Where parents' requests are sent.",
                                max_length=254,
                                verbose_name="contact email",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                    ],
                    options={
                        "verbose_name": "school",
                        "verbose_name_plural": "schools",
                        "db_table": "accounts_school",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="SchoolStudentAccount",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="registered at")),
                        (
                            "first_password_issued_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="login card printed at"),
                        ),
                        (
                            "registered_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "school",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="student_accounts",
                                to="schools.school",
                            ),
                        ),
                        (
                            "user",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="school_student_account",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "school-registered student",
                        "verbose_name_plural": "school-registered students",
                        "db_table": "grading_schoolstudentaccount",
                    },
                ),
                migrations.CreateModel(
                    name="SchoolMembership",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "role",
                            models.CharField(
                                choices=[
                                    ("admin", "School administrator"),
                                    ("teacher", "Teacher"),
                                    ("student", "Student"),
                                ],
                                max_length=16,
                                verbose_name="role",
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created at")),
                        (
                            "school",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="memberships",
                                to="schools.school",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="school_memberships",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "school membership",
                        "verbose_name_plural": "school memberships",
                        "db_table": "accounts_schoolmembership",
                        "indexes": [models.Index(fields=["user", "role"], name="accounts_sc_user_id_da9eaa_idx")],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("school", "user", "role"), name="accounts_membership_unique_role"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(("role__in", ["admin", "teacher", "student"])),
                                name="accounts_membership_role_valid",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="TeacherInvitation",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("email", models.EmailField(max_length=254, verbose_name="email")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="invited at")),
                        ("expires_at", models.DateTimeField(verbose_name="expires at")),
                        ("accepted_at", models.DateTimeField(blank=True, null=True, verbose_name="accepted at")),
                        (
                            "accepted_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "invited_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "school",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="teacher_invitations",
                                to="schools.school",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "teacher invitation",
                        "verbose_name_plural": "teacher invitations",
                        "db_table": "grading_teacherinvitation",
                        "ordering": ["-created_at"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("accepted_at__isnull", True), ("accepted_by__isnull", False), _connector="OR"
                                ),
                                name="grading_invitation_accepted_has_user",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
