"""The cookie choice of signed-in adults, and aggregate page-view counts (no person in them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CookieChoice(models.TextChoices):
    ANALYTICS = "analytics", _("Essential cookies and analytics")
    ESSENTIAL = "essential", _("Essential cookies only")


class CookieConsent(models.Model):
    """A signed-in adult's choice, kept so that it follows them to another browser."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cookie_consent")
    choice = models.CharField(_("choice"), max_length=16, choices=CookieChoice.choices)
    decided_at = models.DateTimeField(_("decided at"))

    class Meta:
        verbose_name = _("cookie choice")
        verbose_name_plural = _("cookie choices")
        indexes = [models.Index(fields=["decided_at", "id"], name="analytics_choice_decided_key")]  # retention
        constraints = [
            models.CheckConstraint(
                condition=Q(choice__in=CookieChoice.values), name="analytics_cookieconsent_choice_valid"
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_choice_display())


class PageViewCount(models.Model):
    """How many opted-in page views a page had on one day.

    ``path`` is the page's URL pattern (``/billing/orders/<uuid:reference>/``), never a concrete URL, so
    no identifier or secret link key is ever stored. No IP address, user id or user agent is kept.
    """

    path = models.CharField(_("page"), max_length=255)
    day = models.DateField(_("day"))
    count = models.PositiveIntegerField(_("page views"), default=0)

    class Meta:
        verbose_name = _("page-view count")
        verbose_name_plural = _("page-view counts")
        ordering = ["-day", "path"]
        constraints = [
            models.UniqueConstraint(fields=["path", "day"], name="analytics_pageviewcount_path_day_unique"),
            models.CheckConstraint(condition=Q(count__gte=0), name="analytics_pageviewcount_count_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.path} {self.day}"
