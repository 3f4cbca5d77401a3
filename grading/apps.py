from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GradingConfig(AppConfig):
    name = "grading"
    verbose_name = _("Grading")

    def ready(self) -> None:
        # Imports here: models are loaded only once the app registry is ready.
        from consent import hooks as consent_hooks

        from . import selectors

        consent_hooks.school_contacts.register(selectors.school_child_teacher_emails)
