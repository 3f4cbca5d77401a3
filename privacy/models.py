from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AccessLog(models.Model):
    """One look by a staff member at a record holding personal data (written by the admin, never edited)."""

    class Action(models.TextChoices):
        VIEW = "view", _("Viewed")
        CHANGE = "change", _("Changed")
        DELETE = "delete", _("Deleted")
        HISTORY = "history", _("Viewed history")
        EXPORT = "export", _("Exported")

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("staff")
    )
    staff_label = models.CharField(_("staff member"), max_length=150)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    model = models.CharField(_("record type"), max_length=100)
    object_id = models.CharField(_("record id"), max_length=64)
    # The person whose data it is, by id only: the row stays meaningful (and harmless) after that person is erased.
    subject_id = models.BigIntegerField(_("data subject id"), null=True, db_index=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("staff access")
        verbose_name_plural = _("staff accesses")
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["subject_id", "-at"]),
            models.Index(fields=["at", "id"], name="privacy_accesslog_at_key"),  # the list's order, retention
        ]

    def __str__(self) -> str:
        return f"{self.staff_label} {self.action} {self.model} #{self.object_id}"


class PolicyVersion(models.Model):
    """A published version of the privacy policy. Its text ships with the code as a translatable template."""

    version = models.CharField(_("version"), max_length=32, unique=True)
    effective_at = models.DateTimeField(_("effective from"))
    material = models.BooleanField(
        _("material change"), default=False, help_text=_("Users (and parents of children) must accept it again.")
    )
    summary = models.TextField(_("what changed"), blank=True)
    template_name = models.CharField(_("template"), max_length=200, default="pages/privacy_policy.html")
    # When a privacy officer published it: parents were then asked (a material change) and the schools told.
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        verbose_name = _("privacy policy version")
        verbose_name_plural = _("privacy policy versions")
        ordering = ["-effective_at"]

    def __str__(self) -> str:
        return self.version

    @property
    def summary_display(self) -> str:
        """The summary in the reader's language while it is the text a data migration wrote
        (privacy.policy_texts); a summary staff wrote is shown as written."""
        from django.utils.translation import gettext

        return gettext(self.summary) if self.summary else ""


class PolicyAcceptance(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_acceptances")
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField(_("accepted at"), auto_now_add=True)
    by_guardian = models.BooleanField(
        _("accepted by a parent"), default=False, help_text=_("For a child under parental consent.")
    )

    class Meta:
        verbose_name = _("privacy policy acceptance")
        verbose_name_plural = _("privacy policy acceptances")
        constraints = [models.UniqueConstraint(fields=["user", "version"], name="privacy_acceptance_once")]

    def __str__(self) -> str:
        return f"{self.user_id} accepted {self.version_id}"


class PolicyReconsent(models.Model):
    """A child under a parent's consent whose parents were asked to agree to a material change of the policy.

    Asked at publication; one reminder after POLICY_RECONSENT_DAYS; without an answer POLICY_RECONSENT_DAYS
    later the child's account is paused (collection stops) until a parent answers. Written by privacy.services."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.CASCADE, related_name="reconsents")
    child = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("child")
    )
    asked_at = models.DateTimeField(_("parents asked at"))
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    paused_at = models.DateTimeField(_("account paused at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("a parent agreed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("policy re-consent")
        verbose_name_plural = _("policy re-consents")
        constraints = [models.UniqueConstraint(fields=["version", "child"], name="privacy_reconsent_once")]
        indexes = [models.Index(fields=["answered_at", "asked_at"])]

    def __str__(self) -> str:
        return f"{self.version_id} · {self.child_id}"


class DisclosureRequest(models.Model):
    """A request from an authority for users' data, and what we did about it."""

    class Kind(models.TextChoices):
        SUBPOENA = "subpoena", _("Subpoena")
        COURT_ORDER = "court_order", _("Court order")
        WARRANT = "warrant", _("Warrant")
        ADMINISTRATIVE = "administrative", _("Administrative request")
        EMERGENCY = "emergency", _("Emergency request")
        OTHER = "other", _("Other")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Under review")
        DISCLOSED = "disclosed", _("Data disclosed")
        PARTIAL = "partial", _("Partly disclosed")
        REJECTED = "rejected", _("Rejected")
        NO_DATA = "no_data", _("No data held")

    authority = models.CharField(_("who asked"), max_length=200)
    kind = models.CharField(_("type"), max_length=20, choices=Kind.choices)
    legal_basis = models.CharField(_("legal basis"), max_length=300)
    received_on = models.DateField(_("received on"))
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING)
    disclosed = models.TextField(_("what was disclosed"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("recorded by")
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("disclosure request")
        verbose_name_plural = _("disclosure register")
        ordering = ["-received_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.received_on} · {self.authority}"


class DisclosureSubject(models.Model):
    """A user concerned by a disclosure request, and whether and when they were told."""

    request = models.ForeignKey(DisclosureRequest, on_delete=models.CASCADE, related_name="subjects")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    subject_id = models.BigIntegerField(_("user id"))
    notified = models.BooleanField(_("user notified"), default=False)
    notified_on = models.DateField(_("notified on"), null=True, blank=True)
    notice_withheld_reason = models.CharField(_("why the user was not notified"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("user concerned")
        verbose_name_plural = _("users concerned")
        constraints = [
            models.UniqueConstraint(fields=["request", "subject_id"], name="privacy_disclosure_subject_once"),
            models.CheckConstraint(
                condition=models.Q(notified=False) | models.Q(notified_on__isnull=False),
                name="privacy_disclosure_notified_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"user #{self.subject_id}"


class Notice(models.Model):
    """A notice to every user (e.g. before a transfer of data in a merger), sent in rate-limited batches."""

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")

    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("written by")
    )
    created_at = models.DateTimeField(_("written at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sending started"), null=True, blank=True)
    # Accounts that have no email address and no parent or school to reach them through (counted at sending).
    unreached = models.PositiveIntegerField(_("accounts that could not be reached"), default=0)

    class Meta:
        verbose_name = _("notice to users")
        verbose_name_plural = _("notices to users")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.subject


class NoticeDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        QUEUED = "queued", _("Handed to the outbox")  # its email's delivery: ``email``
        SENT = "sent", _("Sent")  # before the outbox, a batch sent the email itself
        FAILED = "failed", _("Failed")

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="deliveries")
    # The outbox delivery of this user's email (NULL once the outbox purged it after its retention period).
    email = models.ForeignKey(
        "outbox.Delivery", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("email")
    )

    class Via(models.TextChoices):
        ACCOUNT = "account", _("Account holder")
        PARENT = "parent", _("Parent of a child's account")
        GUARDIAN = "guardian", _("Second guardian or parent recorded by a school")
        SCHOOL = "school", _("School contact")

    # The account the email is addressed to; empty for a parent or a school contact without an account here.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", null=True)
    address = models.EmailField(_("recipient"), blank=True, default="")
    via = models.CharField(_("reached as"), max_length=16, choices=Via.choices, default=Via.ACCOUNT)
    # How many accounts without an email address this recipient speaks for (a parent's children, a school's
    # students): the notice reaches them through this email.
    covers = models.PositiveIntegerField(_("accounts without email reached"), default=0)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("notice delivery")
        verbose_name_plural = _("notice deliveries")
        constraints = [
            models.UniqueConstraint(fields=["notice", "user"], name="privacy_notice_delivery_once"),
            models.UniqueConstraint(
                fields=["notice", "address"], condition=~models.Q(address=""), name="privacy_notice_address_once"
            ),
        ]
        indexes = [models.Index(fields=["notice", "state"])]

    def __str__(self) -> str:
        return f"{self.notice_id} → {self.address or self.user_id}: {self.state}"


class StaffBrowser(models.Model):
    """A browser a staff member signed in from (a random token in a cookie; only its hash is kept here).

    A sign-in from a browser not listed emails the staff member (privacy.staff_security)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(_("browser token hash"), max_length=64, unique=True)
    first_seen_at = models.DateTimeField(_("first sign-in"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last sign-in"))

    class Meta:
        verbose_name = _("staff browser")
        verbose_name_plural = _("staff browsers")

    def __str__(self) -> str:
        return f"{self.user_id} · {self.first_seen_at:%Y-%m-%d}"


class DataRequestCase(models.Model):
    """A data-subject request handled by the privacy desk: who asked what about whom, how the requester was
    verified, what was done and by when it is due (``DSR_DEADLINE_DAYS``). Written only by privacy.desk."""

    class Kind(models.TextChoices):
        ACCESS = "access", _("Access (a copy of the data)")
        CORRECTION = "correction", _("Correction")
        DELETION = "deletion", _("Deletion")
        STOP_COLLECTION = "stop_collection", _("Stop collection")
        COMPLAINT = "complaint", _("Complaint")

    class Source(models.TextChoices):
        EMAIL = "email", _("Email to support")
        SUPPORT_FORM = "support_form", _("Contact form")
        SCHOOL_REQUEST = "school_request", _("Parent portal request about a school account")
        NO_CONSENT = "no_consent", _("Report: a child's account without parental consent")
        OTHER = "other", _("Other (phone, letter)")

    class Relation(models.TextChoices):
        SELF = "self", _("The account holder")
        PARENT = "parent", _("Parent or legal guardian")
        SCHOOL = "school", _("The school")
        OTHER = "other", _("Someone else")

    class Verification(models.TextChoices):
        NONE = "", _("Not verified yet")
        CONSENT_ADDRESS_LINK = "consent_link", _("Link sent to the address on the consent record, opened")
        SIGNED_IN = "signed_in", _("Request made while signed in to the account")
        SCHOOL_CONTACT = "school_contact", _("Confirmed by the school's registered contact")
        STAFF_CHECK = "staff_check", _("Staff check recorded (child without consent)")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        VERIFIED = "verified", _("Requester verified")
        CLOSED = "closed", _("Closed")

    kind = models.CharField(_("request"), max_length=16, choices=Kind.choices)
    source = models.CharField(_("received through"), max_length=16, choices=Source.choices)
    requester_email = models.EmailField(_("requester's email"))
    requester_relation = models.CharField(_("requester is"), max_length=8, choices=Relation.choices)
    message = models.TextField(_("the request as received"), blank=True)
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("account concerned"),
    )
    # The account by id only: the case stays meaningful (and names no one) after the account is erased.
    subject_id_kept = models.BigIntegerField(_("account id"), null=True, blank=True, db_index=True)
    verification = models.CharField(
        _("identity verified by"), max_length=16, choices=Verification.choices, blank=True, default=""
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.OPEN)
    due_on = models.DateField(_("due on"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("opened by")
    )
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    reply = models.TextField(_("reply to the requester"), blank=True)

    class Meta:
        verbose_name = _("data request case")
        verbose_name_plural = _("data request cases")
        ordering = ["due_on", "pk"]
        indexes = [models.Index(fields=["status", "due_on"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="closed") | models.Q(closed_at__isnull=False),
                name="privacy_case_closed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class CaseAction(models.Model):
    """One thing the desk did on a case (never edited). Details name no one: ids and states only."""

    class Kind(models.TextChoices):
        OPENED = "opened", _("Case opened")
        LINK_SENT = "link_sent", _("Verification link sent to the consent record's address")
        VERIFIED = "verified", _("Requester verified")
        PORTAL_LINK_SENT = "portal_link", _("Parent portal sign-in link sent")
        EXPORT = "export", _("Data export started")
        SUSPENDED = "suspended", _("Account suspended")
        CHECK = "check", _("Check recorded")
        COLLECTION_STOPPED = "stopped", _("Collection stopped")
        ERASED = "erased", _("Account erased through the erasure pipeline")
        ERASURE_FAILED = "erase_failed", _("Erasure failed (retried by the pipeline)")
        CLOSED = "closed", _("Case closed, reply sent")

    case = models.ForeignKey(DataRequestCase, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(_("action"), max_length=16, choices=Kind.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    staff_label = models.CharField(_("by"), max_length=150, blank=True)
    note = models.TextField(_("note"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("case action")
        verbose_name_plural = _("case actions")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.kind}"
