from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from allauth.socialaccount.models import SocialAccount
        from django.db.models.signals import pre_save

        from mindomo import privacy

        from . import services

        # Data minimisation guard: whatever path writes a linked account (sign-up, connect, the
        # update allauth does at each login), the provider's profile is never stored.
        pre_save.connect(
            services.socialaccount_minimize_receiver,
            sender=SocialAccount,
            dispatch_uid="accounts.socialaccount_minimize",
        )
        privacy.autodiscover()
