from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Privacy operations across the apps: staff roles and access log, retention engine, disclosure
    register, notices to users and the versioned privacy policy."""

    name = "privacy"
    verbose_name = _("Privacy operations")
