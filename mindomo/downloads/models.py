from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PreparedFile(models.Model):
    """A file prepared for one person by a background job (login cards, a child's data, ...).

    Its owner is a signed-in account (``user``) or, in the parent portal, a parent's email address
    (``owner_email``); the kind's ``allowed`` check decides each time the file or its progress is asked for."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to start")
        BUILDING = "building", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    public_id = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=60)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    owner_email = models.CharField(_("owner's email address"), max_length=254, blank=True, default="")
    # whose data the file holds, when it is one person's (a child's data for the parent): erased with them
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True, default="")  # the file is written in it
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    parts_done = models.PositiveIntegerField(_("parts done"), default=0)
    parts_total = models.PositiveIntegerField(_("parts in all"), default=1)
    file_name = models.CharField(_("stored file"), max_length=200, blank=True, default="", editable=False)
    file_size = models.BigIntegerField(_("size"), default=0)
    download_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    error = models.TextField(_("error"), blank=True, default="")
    created_at = models.DateTimeField(_("asked on"), auto_now_add=True)
    ready_at = models.DateTimeField(_("ready on"), null=True, blank=True)
    expires_at = models.DateTimeField(_("deleted after"), null=True, blank=True)

    class Meta:
        verbose_name = _("prepared file")
        verbose_name_plural = _("prepared files")
        indexes = [
            models.Index(fields=["expires_at"], name="downloads_expires"),
            models.Index(fields=["owner_email"], name="downloads_owner_email"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.public_id}"
