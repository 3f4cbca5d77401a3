from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """Cookie consent, opt-in first-party analytics and the Content-Security-Policy."""

    name = "analytics"
    verbose_name = _("Cookies and analytics")
