"""Age rules, age decisions, sealed pending child sign-ups, consent records and their audit trail.

Nothing here holds a birth date. A pending child sign-up holds nothing readable about the child: its
login and password hash are sealed with a key that lives only in the parent's link (see services).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


def _new_pseudonym() -> str:
    return secrets.token_hex(16)


class AgeRule(models.Model):
    """The age of digital consent in one jurisdiction, as one immutable version.

    A revision never edits a row that decisions point to: it supersedes it and adds the next version
    (``services.age_rule_revise``). The row with an empty country is the default for unknown countries.
    """

    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2 code; empty for the default rule.")
    )
    subdivision = models.CharField(
        _("subdivision"), max_length=6, blank=True, help_text=_("ISO 3166-2 code such as CA-QC; empty for the country.")
    )
    age = models.PositiveSmallIntegerField(_("age of digital consent"))
    legal_source = models.TextField(_("legal source"))
    effective_from = models.DateField(_("took effect on"))
    needs_legal_review = models.BooleanField(
        _("needs legal review"), default=False, help_text=_("Sources disagree about this age.")
    )
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    superseded_at = models.DateTimeField(_("superseded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("age rule")
        verbose_name_plural = _("age rules")
        ordering = ["country", "subdivision", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "subdivision"],
                condition=Q(superseded_at__isnull=True),
                name="consent_agerule_one_current_per_jurisdiction",
                violation_error_message=_("This jurisdiction already has a current rule."),
            ),
            models.UniqueConstraint(
                fields=["country", "subdivision", "version"], name="consent_agerule_unique_version"
            ),
            models.CheckConstraint(condition=Q(age__gte=10, age__lte=21), name="consent_agerule_age_range"),
            models.CheckConstraint(
                condition=Q(subdivision="") | Q(country__gt=""), name="consent_agerule_subdivision_needs_country"
            ),
        ]

    def __str__(self) -> str:
        where = self.subdivision or self.country or _("default")
        return f"{where}: {self.age} (v{self.version})"

    @property
    def jurisdiction(self) -> str:
        return self.subdivision or self.country or "*"


class ThirdParty(models.Model):
    """A service provider that may process personal data. Only 'integral' ones receive children's data."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    purpose = models.TextField(_("purpose"))
    location = models.CharField(_("location"), max_length=120)
    integral = models.BooleanField(
        _("integral to the service"),
        default=False,
        help_text=_("Integral providers are named to parents as the only ones that receive a child's data."),
    )
    active = models.BooleanField(
        _("receives children's data"),
        default=True,
        help_text=_(
            "Children's data may go to it now. While such a provider is not integral, disclosing a child's data "
            "to it needs the parent's separate consent by a card charge refunded at once or a signed form reviewed by "
            "staff (2025 COPPA amendment), never email plus."
        ),
    )

    class Meta:
        verbose_name = _("third party")
        verbose_name_plural = _("third parties")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def purpose_display(self) -> str:
        """The purpose in the reader's language: translated while it is the text the reference data wrote;
        a text staff wrote in the admin is shown as written."""
        return gettext(self.purpose) if self.purpose else ""

    @property
    def location_display(self) -> str:
        return gettext(self.location) if self.location else ""


class AgeOutcome(models.TextChoices):
    ADULT = "adult", _("Adult")
    CHILD = "child", _("Child under the age of digital consent")


class AgeDecision(models.Model):
    """What the age gate decided for an account. Never the birth date."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="age_decision")
    outcome = models.CharField(_("outcome"), max_length=8, choices=AgeOutcome.choices)
    rule = models.ForeignKey(AgeRule, on_delete=models.PROTECT, related_name="+")
    consent_month = models.DateField(
        _("reaches the age of consent in"), null=True, blank=True, help_text=_("First day of that month.")
    )
    decided_at = models.DateTimeField(_("decided at"))

    class Meta:
        verbose_name = _("age decision")
        verbose_name_plural = _("age decisions")
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=["adult", "child"]), name="consent_agedecision_outcome"),
            models.CheckConstraint(
                condition=Q(outcome="adult", consent_month__isnull=True)
                | Q(outcome="child", consent_month__isnull=False),
                name="consent_agedecision_child_has_month",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.outcome}"


class PendingSignup(models.Model):
    """A child's sign-up waiting for a parent. Sealed: see the module docstring.

    ``public_id`` names the request in the parent's link; ``login_digest`` is a keyed hash that
    reserves the login against duplicates; ``sealed`` is the Fernet token of the login and password hash.
    """

    public_id = models.CharField(max_length=32, unique=True)
    login_digest = models.CharField(max_length=64, unique=True)
    sealed = models.TextField()
    parent_email = models.EmailField(_("parent email"))
    country = models.CharField(_("country"), max_length=2)
    rule = models.ForeignKey(AgeRule, on_delete=models.PROTECT, related_name="+")
    consent_month = models.DateField(_("reaches the age of consent in"))
    created_at = models.DateTimeField(_("created at"))
    expires_at = models.DateTimeField(_("expires at"))
    resend_count = models.PositiveSmallIntegerField(_("resent"), default=0)
    reminder_due_at = models.DateTimeField(_("reminder due at"), null=True, blank=True, db_index=True)
    # The request's pseudonym in the consent ledger (the account takes it over at approval).
    ledger_subject = models.CharField(max_length=32, default=_new_pseudonym)
    # The language the child used: the parent's emails about this request are written in it.
    language = models.CharField(_("language"), max_length=8, blank=True, default="")

    class Meta:
        verbose_name = _("pending child sign-up")
        verbose_name_plural = _("pending child sign-ups")
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("created_at")), name="consent_pending_expiry"),
        ]
        # the expiry's keyset order (mindomo.bulk): "expires_at <= now" read in (expires_at, id) order
        indexes = [models.Index(fields=["expires_at", "id"], name="consent_pending_expiry_key")]

    def __str__(self) -> str:
        return self.public_id


class ConsentMethod(models.TextChoices):
    EMAIL_PLUS = "email_plus", _("Parent's email (email plus)")
    SCHOOL = "school", _("School (limited to the educational context)")


class ConsentRecord(models.Model):
    """Who consented to a child's account, how, under which policy and rule."""

    child = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_record")
    method = models.CharField(_("method"), max_length=16, choices=ConsentMethod.choices)
    parent_email = models.EmailField(_("parent email"), blank=True)
    school = models.ForeignKey(
        "schools.School", on_delete=models.PROTECT, null=True, blank=True, related_name="consent_records"
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    policy_version = models.CharField(_("policy version"), max_length=32)
    rule = models.ForeignKey(AgeRule, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    granted_at = models.DateTimeField(_("granted at"))
    request_ref = models.CharField(max_length=64, null=True, blank=True, unique=True)
    follow_up_sent_at = models.DateTimeField(_("follow-up sent at"), null=True, blank=True)
    # The language the parent used (the child's when the parent never visited): the parent's emails use it.
    parent_language = models.CharField(_("parent's language"), max_length=8, blank=True, default="")

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        constraints = [
            models.CheckConstraint(condition=Q(method__in=["email_plus", "school"]), name="consent_record_method"),
            models.CheckConstraint(
                condition=Q(method="school", school__isnull=False) | Q(method="email_plus", school__isnull=True),
                name="consent_record_school_iff_school_method",
            ),
            models.CheckConstraint(
                condition=Q(method="school") | ~Q(parent_email=""), name="consent_record_email_plus_has_parent"
            ),
        ]
        indexes = [models.Index(Lower("parent_email"), name="consent_record_parent_lower")]  # the parent portal

    def __str__(self) -> str:
        return f"{self.child_id}: {self.method}"


# --- the parent portal and the consent ledger ----------------------------------------------------------
class Guardian(models.Model):
    """A second guardian invited by a consenting parent: the same rights over the child, by email sign-in."""

    record = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="guardians")
    email = models.EmailField(_("guardian email"))
    created_at = models.DateTimeField(_("invited at"), auto_now_add=True)
    # The language of the guardian's emails: the inviting parent's, then the one the guardian uses in the portal.
    language = models.CharField(_("language"), max_length=8, blank=True, default="")

    class Meta:
        verbose_name = _("second guardian")
        verbose_name_plural = _("second guardians")
        constraints = [
            models.UniqueConstraint("record", Lower("email"), name="consent_guardian_once_per_record"),
        ]
        indexes = [models.Index(Lower("email"), name="consent_guardian_email_lower")]  # a guardian signing in

    def __str__(self) -> str:
        return f"{self.record_id}: guardian"


class ParentalControl(models.Model):
    """What the portal changed about a child's account: suspension and the end of parental control."""

    record = models.OneToOneField(ConsentRecord, on_delete=models.CASCADE, related_name="control")
    suspended_at = models.DateTimeField(_("collection stopped at"), null=True, blank=True)
    age_up_due_at = models.DateTimeField(_("reached the age of consent (found) at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("parental control ended at"), null=True, blank=True)
    # Paused because no parent accepted a material change of the privacy policy in time (privacy's re-consent):
    # resumed when a parent accepts, unless a parent also stopped collection (suspended_at).
    policy_paused_at = models.DateTimeField(_("paused for the privacy policy at"), null=True, blank=True)
    # The parent (or the school) was told the account would be erased for lack of sign-in (CHILD_INACTIVITY_DAYS);
    # erased CHILD_INACTIVITY_NOTICE_DAYS later unless someone signs in meanwhile (services.inactive_children_*).
    inactivity_notice_at = models.DateTimeField(_("inactivity announced at"), null=True, blank=True)

    class Meta:
        verbose_name = _("parental control")
        verbose_name_plural = _("parental controls")
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(age_up_due_at__isnull=False),
                name="consent_control_end_after_age_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_id}"


class LedgerPseudonym(models.Model):
    """The mapping from a ledger pseudonym to a person. Lives outside the ledger; goes with the child.

    A pending sign-up carries its own pseudonym (``PendingSignup.ledger_subject``, deleted with it); the
    account takes it over at approval.
    A parent's pseudonym is per child record (never shared between children), so no row links children.
    """

    class Role(models.TextChoices):
        CHILD = "child", _("Child")
        PARENT = "parent", _("Parent or guardian")

    pseudonym = models.CharField(max_length=32, unique=True, default=_new_pseudonym)
    role = models.CharField(max_length=8, choices=Role.choices)
    child = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(blank=True)

    class Meta:
        verbose_name = _("ledger pseudonym")
        verbose_name_plural = _("ledger pseudonyms")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=["child", "parent"]), name="consent_pseudonym_role"),
            models.UniqueConstraint(
                fields=["child"], condition=Q(role="child"), name="consent_pseudonym_one_per_child"
            ),
        ]

    def __str__(self) -> str:
        return self.pseudonym


class LedgerEntry(models.Model):
    """One consent event, appended, never updated or deleted (a trigger refuses both).

    ``hash`` = SHA-256 over the previous row's hash and this row's canonical content, so changing,
    removing or reordering any row breaks every later link. No name, email or login: pseudonyms only.
    """

    class Kind(models.TextChoices):
        REQUESTED = "requested", _("Consent requested")
        RESENT = "resent", _("Request sent again")
        REMINDED = "reminded", _("Parent reminded")
        GRANTED = "granted", _("Consent granted")
        REFUSED = "refused", _("Consent refused")
        EXPIRED = "expired", _("Request expired")
        SUSPENDED = "suspended", _("Collection stopped (account suspended)")
        RESUMED = "resumed", _("Collection resumed")
        WITHDRAWN = "withdrawn", _("Consent withdrawn, account deleted")
        AGED_UP = "aged_up", _("Child reached the age of consent")
        SCHOOL_REQUEST = "school_request", _("Parent's request sent to the school")
        GUARDIAN_ADDED = "guardian_added", _("Second guardian invited")
        GUARDIAN_REMOVED = "guardian_removed", _("Parent or guardian removed by the school")
        CLASS_APPROVED = "class_approved", _("Parent approved joining a school's class")
        CLASS_DECLINED = "class_declined", _("Parent declined joining a school's class")
        DISCLOSED = "disclosed", _("Data sent to a third party with the parent's separate consent")

    seq = models.PositiveBigIntegerField(_("number"), unique=True)
    at = models.DateTimeField(_("at"))
    kind = models.CharField(_("event"), max_length=16, choices=Kind.choices)
    subject = models.CharField(_("child (pseudonym)"), max_length=32)
    actor = models.CharField(_("by (pseudonym or role)"), max_length=40)
    method = models.CharField(_("method"), max_length=16, blank=True)
    rule = models.CharField(_("rule"), max_length=16, blank=True)
    rule_version = models.PositiveIntegerField(_("rule version"), null=True, blank=True)
    policy_version = models.CharField(_("policy version"), max_length=32, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    # the chain of the row's subject (consent.ledger.chain_of); prev_hash links to that chain's previous row
    chain = models.PositiveSmallIntegerField(_("chain"), default=0)
    prev_hash = models.CharField(max_length=64)
    # unique through a constraint, not ``unique=True``: no second (varchar_pattern_ops) index nobody uses
    hash = models.CharField(max_length=64)
    # A compact batch entry's subjects (consent.ledger.packed_batch_event, the expiry's): the pseudonyms packed
    # in the order the Merkle tree takes them, 16 bytes each, outside the hashed content, whose detail holds
    # their Merkle root (which commits to every one of them); stored uncompressed (migration 0018). Empty for
    # any other row.
    members = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("consent ledger entry")
        verbose_name_plural = _("consent ledger")
        ordering = ["seq"]
        constraints = [models.UniqueConstraint(fields=["hash"], name="consent_ledger_hash_unique")]
        indexes = [
            models.Index(fields=["subject", "seq"], name="consent_ledger_subject_seq"),
            models.Index(fields=["chain", "seq"], name="consent_ledger_chain_seq"),  # a chain's head, its walk
        ]
        # Reminder batch entries (one row for many subjects) are found by a subject named in detail ->
        # 'subjects' through the partial GIN index consent_ledger_batch_subjects (migration 0010, SQL:
        # Django 5.2 writes an opclass on a key transform with parentheses PostgreSQL refuses).

    def __str__(self) -> str:
        return f"#{self.seq} {self.kind}"


class LedgerCheckpoint(models.Model):
    """Every ledger chain's head at one moment (``{chain: [seq, hash]}``), signed with Ed25519 (the consent
    receipts' key): a chain whose last rows were cut off no longer reaches the head a checkpoint signed.
    Written by the beat task ``consent-ledger-checkpoint``; append-only like the ledger (same trigger)."""

    at = models.DateTimeField(_("at"))
    heads = models.JSONField(_("heads"))
    public_key = models.CharField(_("public key"), max_length=64)
    signature = models.CharField(_("signature"), max_length=128)

    class Meta:
        verbose_name = _("consent ledger checkpoint")
        verbose_name_plural = _("consent ledger checkpoints")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} ({len(self.heads)})"


class DisclosureConsent(models.Model):
    """A parent's separate consent to disclose a child's data to one non-integral third party.

    Email plus never suffices for it (2025 COPPA amendment): the methods are a small card charge refunded at once
    (the card's holder is notified of the transaction) and a signed consent form a privacy officer reviewed
    (``consent.verification``). Rows from before 2026 may name the zero-amount card check, no longer offered.
    """

    class Method(models.TextChoices):
        CARD_CHECK = "card_check", _("Card check (zero-amount verification, before 2026)")
        CARD_CHARGE = "card_charge", _("Card charge refunded at once")
        SIGNED_FORM = "signed_form", _("Signed consent form reviewed by staff")

    record = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="disclosures")
    third_party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    verification_ref = models.CharField(_("verification reference"), max_length=64)
    granted_at = models.DateTimeField(_("granted at"))

    class Meta:
        verbose_name = _("consent to a disclosure")
        verbose_name_plural = _("consents to disclosures")
        constraints = [
            models.UniqueConstraint(fields=["record", "third_party"], name="consent_disclosure_once"),
            models.CheckConstraint(
                condition=Q(method__in=["card_check", "card_charge", "signed_form"]),
                name="consent_disclosure_strong_method",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_id} → {self.third_party_id}"


def _consent_form_path(instance: SignedConsentForm, filename: str) -> str:
    import secrets
    from pathlib import PurePath

    return f"consent_forms/{secrets.token_urlsafe(24)}{PurePath(filename).suffix.lower()[:6]}"


class SignedConsentForm(models.Model):
    """A signed consent form a parent uploaded in the portal for a disclosure to one non-integral provider,
    waiting for a privacy officer's review (``consent.verification.SignedForm``). The file is never served
    publicly: staff open it from the admin."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    record = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="signed_forms")
    third_party = models.ForeignKey(ThirdParty, on_delete=models.PROTECT, related_name="+")
    parent_email = models.EmailField(_("sent by"))
    file = models.FileField(_("signed form"), upload_to=_consent_form_path)
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("review note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("signed consent form")
        verbose_name_plural = _("signed consent forms")
        ordering = ["outcome", "uploaded_at"]

    def __str__(self) -> str:
        return f"{self.record_id} → {self.third_party_id}: {self.outcome}"

    @property
    def child_id(self) -> int:
        """The data subject, for the staff access log."""
        return int(self.record.child_id)
