from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolsConfig(AppConfig):
    name = "schools"
    verbose_name = _("Schools")

    def ready(self) -> None:
        # Imports here: models are loaded only once the app registry is ready.
        from accounts import hooks as account_hooks

        from . import signin

        # A school sign-in (Google hd, Microsoft tenant) is finished here, before allauth stores anything.
        account_hooks.social_login_intercept.register(signin.social_login_intercept)
