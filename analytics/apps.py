from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    """Cookie consent, opt-in first-party analytics and the Content-Security-Policy."""

    name = "analytics"
    verbose_name = _("Cookies and analytics")

    def ready(self) -> None:
        # Imports here: models and what uses them are loaded only once the app registry is ready.
        from django.contrib.auth.signals import user_logged_in

        from .selectors import remember_account_state_at_login

        # Not business logic: it caches, in the session being written, what every page needs to know.
        user_logged_in.connect(remember_account_state_at_login, dispatch_uid="analytics.remember_account_state")
