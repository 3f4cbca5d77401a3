"""Schools and the people in them: the school, its members' roles, the students it registered, its invitations
to teachers.

The tables keep the names they had in ``accounts`` and ``grading`` (``db_table``): the models moved here with
state-only migrations, so no row was copied. Classes, enrolments and grades stay in grading.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

# How long the grades of a class are kept after the class ends (grading's retention rule), in months: the school
# chooses within these bounds on its grade retention page.
GRADE_RETENTION_MONTHS_DEFAULT = 12
GRADE_RETENTION_MONTHS_MIN = 1
GRADE_RETENTION_MONTHS_MAX = 120


class School(models.Model):
    """A school that registers its students and employs teachers (consent limited to education)."""

    name = models.CharField(_("name"), max_length=200)
    country = CountryField(_("country"))
    contact_email = models.EmailField(_("contact email"), help_text=_("Where parents' requests are sent."))
    roster_org_id = models.CharField(
        _("OneRoster organisation id"),
        max_length=255,
        blank=True,
        help_text=_("The school's sourcedId in its OneRoster files (orgs.csv), kept from the first import."),
    )
    grade_retention_months = models.PositiveSmallIntegerField(
        _("grade retention (months)"),
        default=GRADE_RETENTION_MONTHS_DEFAULT,
        validators=[MinValueValidator(GRADE_RETENTION_MONTHS_MIN), MaxValueValidator(GRADE_RETENTION_MONTHS_MAX)],
        help_text=_("How long the grades of a class are kept after the class ends; then they are deleted."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "accounts_school"
        verbose_name = _("school")
        verbose_name_plural = _("schools")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    grade_retention_months__gte=GRADE_RETENTION_MONTHS_MIN,
                    grade_retention_months__lte=GRADE_RETENTION_MONTHS_MAX,
                ),
                name="schools_grade_retention_months_bounded",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SchoolMembership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", _("School administrator")
        TEACHER = "teacher", _("Teacher")
        STUDENT = "student", _("Student")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="school_memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        db_table = "accounts_schoolmembership"
        verbose_name = _("school membership")
        verbose_name_plural = _("school memberships")
        constraints = [
            models.UniqueConstraint(fields=["school", "user", "role"], name="accounts_membership_unique_role"),
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "teacher", "student"]), name="accounts_membership_role_valid"
            ),
        ]
        indexes = [models.Index(fields=["user", "role"], name="accounts_sc_user_id_da9eaa_idx")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.school}"


class SchoolStudentAccount(models.Model):
    """Marks an account that a school registered (consent method "school", educational context only).

    Such an account has no email address, cannot buy, link social services or receive marketing email.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="school_student_account"
    )
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="student_accounts")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    first_password_issued_at = models.DateTimeField(_("login card printed at"), null=True, blank=True)

    class Meta:
        db_table = "grading_schoolstudentaccount"
        verbose_name = _("school-registered student")
        verbose_name_plural = _("school-registered students")

    def __str__(self) -> str:
        return f"{self.user} · {self.school}"


class TeacherInvitation(models.Model):
    """A school administrator invites a teacher by email; the signed link works once, until it expires."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="teacher_invitations")
    email = models.EmailField(_("email"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("invited at"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "grading_teacherinvitation"
        verbose_name = _("teacher invitation")
        verbose_name_plural = _("teacher invitations")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(accepted_by__isnull=False),
                name="grading_invitation_accepted_has_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} · {self.school}"


class RosteredPerson(models.Model):
    """A person the school's OneRoster files name: their ``sourcedId`` matches them in later imports."""

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="rostered_people")
    sourced_id = models.CharField(_("OneRoster sourcedId"), max_length=255)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(_("role"), max_length=16, choices=SchoolMembership.Role.choices)
    email = models.EmailField(
        _("school email"), blank=True, help_text=_("From the roster; matches the person's school sign-in.")
    )
    imported_at = models.DateTimeField(_("imported at"), auto_now_add=True)

    class Meta:
        verbose_name = _("rostered person")
        verbose_name_plural = _("rostered people")
        constraints = [
            models.UniqueConstraint(fields=["school", "sourced_id"], name="schools_rostered_sourced_id_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.sourced_id} · {self.school}"


class RosterImport(models.Model):
    """One OneRoster zip a school administrator uploaded: previewed, then imported by a Celery job.

    The zip is kept under MEDIA_ROOT/rosters with an unguessable name only between the preview and the import
    (or its cancellation); ``summary`` holds the preview's counts and lines, never the file's other data.
    """

    class State(models.TextChoices):
        PREVIEWED = "previewed", _("Previewed")
        REFUSED = "refused", _("Refused (errors in the file)")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="roster_imports")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PREVIEWED)
    file_name = models.CharField(_("file name"), max_length=100, blank=True, editable=False)
    summary = models.JSONField(_("summary"), default=dict)
    erase_user_ids = models.JSONField(_("accounts to erase"), default=list)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The job's last sign of life on this row (queued, started, written, each erasure); while it writes, its
    # progress in the cache carries the time too. None moves for ROSTER_IMPORT_STALL_SECONDS: "Interrupted".
    heartbeat_at = models.DateTimeField(_("last progress at"), null=True, blank=True)
    # Set in the transaction that writes the roster: a run after it only finishes the erasures.
    written_at = models.DateTimeField(_("written at"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("runs started"), default=0)

    class Meta:
        verbose_name = _("roster import")
        verbose_name_plural = _("roster imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.school} · {self.created_at:%Y-%m-%d %H:%M}"


class SchoolDomain(models.Model):
    """An email domain of the school's Google Workspace or Microsoft 365 accounts (schools/signin.py)."""

    class Provider(models.TextChoices):
        GOOGLE = "google", _("Google Workspace for Education")
        MICROSOFT = "microsoft", _("Microsoft 365")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(_("domain"), max_length=253, unique=True)
    provider = models.CharField(_("sign-in service"), max_length=16, choices=Provider.choices)
    tenant_id = models.CharField(_("Microsoft tenant id"), max_length=64, blank=True)
    txt_token = models.CharField(_("DNS TXT value"), max_length=64, editable=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verified_how = models.CharField(
        _("verified by"),
        max_length=16,
        blank=True,
        choices=[("dns", _("DNS TXT value confirmed by an operator")), ("sign_in", _("An administrator's sign-in"))],
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("school domain")
        verbose_name_plural = _("school domains")
        ordering = ["domain"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(provider="microsoft") | ~models.Q(tenant_id=""),
                name="schools_domain_microsoft_has_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.domain


class TeacherJoinRequest(models.Model):
    """Someone signed in with the account of a school's verified domain, is on no roster and asks to join as a
    teacher (schools/signin.py). The provider vouches for the school email, not for the role: the school's
    administrators approve or decline. Only the name and the school email are kept (nothing of the provider),
    and every request is deleted ``JOIN_REQUEST_RETENTION_DAYS`` after it was made (schools.privacy)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for an answer")
        APPROVED = "approved", _("Approved")
        DECLINED = "declined", _("Declined")

    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="teacher_join_requests")
    domain = models.ForeignKey(SchoolDomain, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    email = models.EmailField(_("school email"))
    first_name = models.CharField(_("first name"), max_length=150)
    last_name = models.CharField(_("last name"), max_length=150)
    language = models.CharField(_("language"), max_length=16, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("asked at"), auto_now_add=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("request to join as a teacher")
        verbose_name_plural = _("requests to join as a teacher")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "school",
                condition=models.Q(status="pending"),
                name="schools_join_one_pending_per_address",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "declined"]), name="schools_join_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending", answered_at__isnull=True)
                | (~models.Q(status="pending") & models.Q(answered_at__isnull=False)),
                name="schools_join_answered_has_date",
            ),
        ]
        indexes = [models.Index(fields=["created_at", "id"], name="schools_join_created_key")]

    def __str__(self) -> str:
        return f"{self.email} · {self.school}"
