from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class UserManager(DjangoUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        # Usernames are unique whatever their case (allauth's backend handles email logins).
        return self.get(username__iexact=username)

    def get(self, *args: Any, **kwargs: Any) -> User:
        """``User.objects.get(pk=<int>)``, what Django's authentication backends ask on every signed-in request
        (``ModelBackend.get_user``), read through a statement compiled once per process (``mindomo.statements``:
        the ORM built and compiled the same read on every request, about 0.25 ms of CPU); the same instance the
        ORM makes (every column, no converter on any of them) or ``User.DoesNotExist``. Any other lookup, and
        this manager's subclasses (a relation's manager, which adds its own filter), go to the ORM."""
        if args or type(self) is not UserManager or self._db is not None or kwargs.keys() != {"pk"}:
            return super().get(*args, **kwargs)
        pk = kwargs["pk"]
        if type(pk) is not int:
            return super().get(*args, **kwargs)
        from django.db import connections, router

        from mindomo import statements

        using = router.db_for_read(self.model)
        sql = statements.inline(("accounts.user_by_pk", using), _user_by_pk_sql, pk)
        if sql is None:
            return super().get(*args, **kwargs)
        with connections[using].cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall()
        if not rows:
            raise self.model.DoesNotExist(f"{self.model._meta.object_name} matching query does not exist.")
        return self.model.from_db(using, [f.attname for f in self.model._meta.concrete_fields], rows[0])


def _user_by_pk_sql(pk: int) -> tuple[str, list[Any], None]:
    columns = [f.attname for f in User._meta.concrete_fields]
    sql, params = User.objects.filter(pk=pk).order_by().values_list(*columns).query.sql_with_params()
    return sql, list(params), None


class User(AbstractUser):
    """A person with an account: adult, child (after consent), teacher, school student or staff.

    There is no birth date: the age gate stores its decision, never the date (see consent).
    Children and school students may have no email; they log in with their username.
    """

    email = models.EmailField(_("email address"), blank=True)
    country = CountryField(_("country"), blank=True, help_text=_("Country of residence. Never a precise location."))
    product_updates = models.BooleanField(
        _("product updates by email"),
        default=False,
        help_text=_("Occasional news about improvements to the service. Off unless you turn it on."),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("The language of the pages and emails, chosen by the person (empty: not chosen yet)."),
    )

    objects = UserManager()  # type: ignore[misc]

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
                violation_error_message=_("A user with this email address already exists."),
            ),
            models.UniqueConstraint(
                Lower("username"),
                name="accounts_user_username_ci_unique",
                violation_error_message=_("A user with this username already exists."),
            ),
        ]
        indexes = [
            # the retention rule accounts.unverified_signups: keyset order (date_joined, id) on its filter
            models.Index(
                fields=["date_joined", "id"],
                condition=models.Q(last_login__isnull=True, is_staff=False),
                name="accounts_user_unverified_key",
            ),
            # email__iexact (LOWER(email) = LOWER(...), mindomo.lookups): the unique index above is partial
            # (email <> ''), which the planner cannot use for a bare equality.
            models.Index(Lower("email"), name="accounts_user_email_lower"),
            # allauth looks accounts up by the exact, lower-cased address (User.email = 'ada@example.com').
            models.Index(fields=["email"], name="accounts_user_email"),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


# --- Data subject rights: export, deletion, support ---------------------------------------------------


class DataExport(models.Model):
    """One request for a copy of everything we hold about a user, built by Celery into a zip.

    The file lives in the file storage (mindomo/files.py) under exports/ with an unguessable name, is served
    only to its owner by a view, and is deleted (with ``file_name`` emptied) once it expires.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to start")
        BUILDING = "building", _("Being prepared")
        READY = "ready", _("Ready to download")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    public_id = models.UUIDField(_("public id"), unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="data_exports")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    parts_total = models.PositiveIntegerField(_("parts to collect"), default=0)
    parts_done = models.PositiveIntegerField(_("parts collected"), default=0)
    file_name = models.CharField(_("file name"), max_length=100, blank=True, editable=False)
    file_size = models.PositiveBigIntegerField(_("file size"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    # the last build's start and how many builds started: a build older than the task time limit is dead
    started_at = models.DateTimeField(_("build started at"), null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("builds started"), default=0, editable=False)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)

    class Meta:
        verbose_name = _("data export")
        verbose_name_plural = _("data exports")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(state__in=["pending", "building"]),
                name="accounts_dataexport_one_open_per_user",
                violation_error_message=_("An export of your data is already being prepared."),
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "building", "ready", "failed", "expired"]),
                name="accounts_dataexport_state_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="ready") | (~models.Q(file_name="") & models.Q(expires_at__isnull=False)),
                name="accounts_dataexport_ready_has_file",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="expired") | models.Q(file_name=""),
                name="accounts_dataexport_expired_has_no_file",
            ),
            models.CheckConstraint(
                condition=models.Q(parts_done__lte=models.F("parts_total")),
                name="accounts_dataexport_progress_bounded",
            ),
        ]
        indexes = [models.Index(fields=["state", "expires_at", "id"], name="accounts_export_expiry_key")]

    def __str__(self) -> str:
        return f"{self.public_id} · {self.get_state_display()}"

    @property
    def percent(self) -> int:
        if self.state in (self.State.READY, self.State.EXPIRED):
            return 100
        return int(100 * self.parts_done / self.parts_total) if self.parts_total else 0


class AccountDeletionRequest(models.Model):
    """A user's request to delete their account, and the state of its erasure.

    While ``scheduled`` the account is deactivated and signing in cancels the request. When the grace
    period ends the erasure pipeline runs every privacy provider (one :class:`ErasureStep` each). Once
    erased, the row keeps only its random ``reference`` and the step states: no name, email or username.
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled (grace period)")
        CANCELLED = "cancelled", _("Cancelled")
        ERASING = "erasing", _("Erasing")
        FAILED = "failed", _("Failed, will be retried")
        ERASED = "erased", _("Erased")

    OPEN_STATES = ("scheduled", "erasing", "failed")

    reference = models.UUIDField(_("reference"), unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="deletion_requests")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.SCHEDULED)
    reauthenticated_by = models.CharField(_("confirmed by"), max_length=32)
    # Why the account is erased, in staff's words (kept after the erasure: never a name, email or username).
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    erase_after = models.DateTimeField(_("erase after"))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("erasure attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)

    class Meta:
        verbose_name = _("account deletion request")
        verbose_name_plural = _("account deletion requests")
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(state__in=["scheduled", "erasing", "failed"]),
                name="accounts_deletion_one_open_per_user",
                violation_error_message=_("The deletion of this account is already scheduled."),
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=["scheduled", "cancelled", "erasing", "failed", "erased"]),
                name="accounts_deletion_state_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="erased") | (models.Q(user__isnull=True) & models.Q(erased_at__isnull=False)),
                name="accounts_deletion_erased_has_no_user",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="cancelled") | models.Q(cancelled_at__isnull=False),
                name="accounts_deletion_cancelled_has_date",
            ),
        ]
        indexes = [models.Index(fields=["state", "erase_after"])]

    def __str__(self) -> str:
        return f"{self.reference} · {self.get_state_display()}"


class ErasureStep(models.Model):
    """One privacy provider's part of an erasure: done only once its erase committed."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    request = models.ForeignKey(AccountDeletionRequest, on_delete=models.CASCADE, related_name="steps")
    provider = models.CharField(_("privacy provider"), max_length=64)
    position = models.PositiveIntegerField(_("position"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    error = models.TextField(_("last error"), blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        verbose_name = _("erasure step")
        verbose_name_plural = _("erasure steps")
        ordering = ["request", "position", "provider"]
        constraints = [
            models.UniqueConstraint(fields=["request", "provider"], name="accounts_erasurestep_unique_provider"),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "done", "failed"]), name="accounts_erasurestep_state_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(state="done") | models.Q(done_at__isnull=False),
                name="accounts_erasurestep_done_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} · {self.get_state_display()}"


class SupportInquiry(models.Model):
    """A message sent through the contact form, by a signed-in or an anonymous visitor.

    Kept to answer it, then deleted SUPPORT_INQUIRY_RETENTION_DAYS after it was received.
    """

    class Topic(models.TextChoices):
        ACCOUNT = "account", _("My account")
        PRIVACY = "privacy", _("My data and privacy")
        BILLING = "billing", _("Payments and invoices")
        SCHOOL = "school", _("School and classes")
        OTHER = "other", _("Something else")

    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="support_inquiries")
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email address"))
    topic = models.CharField(_("topic"), max_length=16, choices=Topic.choices)
    message = models.TextField(_("message"), max_length=5000)
    created_at = models.DateTimeField(_("received at"), auto_now_add=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("support inquiry")
        verbose_name_plural = _("support inquiries")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(topic__in=["account", "privacy", "billing", "school", "other"]),
                name="accounts_supportinquiry_topic_valid",
            ),
        ]
        indexes = [
            models.Index(Lower("email"), name="accounts_support_email_lower"),  # erasure finds them
            models.Index(fields=["created_at", "id"], name="accounts_support_created_key"),  # retention keyset
        ]

    def __str__(self) -> str:
        return f"{self.get_topic_display()} · {self.created_at:%Y-%m-%d}"


class UserSession(AbstractBaseSession):
    """A browser session, stored with the id of the user signed in to it (``SESSION_ENGINE = accounts.sessions``).

    Ending every session of an account (suspension, deletion, a new password) is one indexed DELETE by user id,
    never a decoding of every session. No foreign key: a request in flight may still save its session while its
    user is being erased, and that must not fail; the erasure deletes the rows by user id.
    """

    user_id = models.BigIntegerField(_("user id"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    @classmethod
    def get_session_store_class(cls) -> type[Any]:
        # accounts.sessions uses this module's UserSession: imported here, not at the top, to avoid a cycle.
        from .sessions import SessionStore

        return SessionStore
