from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Delivery(models.Model):
    """One email to one address: what to send, and where its delivery stands.

    pending → sending (claimed by one worker, ``claimed_at``) → sent | pending again (temporary failure,
    ``next_attempt_at``) | failed (permanent answer, or the retry window passed) | cancelled (expired
    before it could go, e.g. a sign-in link).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(_("kind"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    # The account the email is addressed to or about (a parent's email about a child names the child): the
    # email is exported and erased with that person.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_email = models.CharField(_("to"), max_length=254)
    from_email = models.CharField(_("from"), max_length=254)
    reply_to = models.JSONField(_("reply to"), default=list, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    subject = models.TextField(_("subject"))
    text_body = models.TextField(_("text"))
    html_body = models.TextField(_("HTML"), blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    # What the email belongs to (e.g. a pending child sign-up), so it can be forgotten with it.
    reference = models.CharField(_("reference"), max_length=120, blank=True, db_index=True)
    # Sent to someone whose data is already gone (the last email after a deletion): delete the row once sent.
    forget_when_sent = models.BooleanField(_("forget when sent"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    due_at = models.DateTimeField(_("due at"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    # When the task message published for this delivery is due (NULL: none published); the beat task
    # publishes again when a message due long enough ago did not run (lost by the broker).
    queued_for = models.DateTimeField(_("task queued for"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    failed_at = models.DateTimeField(_("failed at"), null=True, blank=True)
    error = models.TextField(_("server's answer"), blank=True)

    class Meta:
        verbose_name = _("email delivery")
        verbose_name_plural = _("email deliveries")
        ordering = ["-created_at"]
        permissions = [("retry_delivery", _("Can retry a failed email delivery"))]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_status_next"),
            models.Index(fields=["status", "sent_at", "id"], name="outbox_status_sent_key"),  # retention keyset
            models.Index(fields=["failed_at", "id"], name="outbox_failed_key"),  # retention keyset
            models.Index(fields=["user"], name="outbox_user"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sending", "sent", "failed", "cancelled"]),
                name="outbox_delivery_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="outbox_delivery_sent_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(claimed_at__isnull=False), name="outbox_delivery_claim_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} → {self.to_email} ({self.status})"


class DeliveryAttachment(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(_("file name"), max_length=255)
    mimetype = models.CharField(_("type"), max_length=100)
    content = models.BinaryField(_("content"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename
