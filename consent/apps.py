from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .portal import age_up_on_login_receiver

        user_logged_in.connect(age_up_on_login_receiver, dispatch_uid="consent.age_up_on_login")
