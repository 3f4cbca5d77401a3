from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = _("Consent")

    def ready(self) -> None:
        # Imports here: models are loaded only once the app registry is ready.
        from django.contrib.auth.signals import user_logged_in

        from accounts import hooks as account_hooks

        from . import signup
        from .portal.session import age_up_on_login_receiver

        user_logged_in.connect(age_up_on_login_receiver, dispatch_uid="consent.age_up_on_login")
        account_hooks.signup_redirect.register(signup.signup_redirect)
        account_hooks.signup_prepare.register(signup.signup_prepare)
        account_hooks.signup_saved.register(signup.signup_saved)
        account_hooks.account_is_restricted.register(signup.account_is_restricted)
        account_hooks.email_verification_waived.register(signup.email_verification_waived)
