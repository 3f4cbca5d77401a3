from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        # Imports here: models and what uses them are loaded only once the app registry is ready.
        from mindomo import lookups

        lookups.register()  # field__iexact as LOWER(field) = LOWER(value), served by our Lower() indexes

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
        # Data subject rights: signing in during a deletion's grace period cancels it. This allauth signal
        # fires once the password (or the linked provider, or a login code) is verified and before the
        # inactive-account check, so the sign-in then completes normally.
        from allauth.account.signals import authentication_step_completed

        from .models import User

        authentication_step_completed.connect(
            services.account_deletion_cancel_on_sign_in_receiver,
            sender=User,
            dispatch_uid="accounts.deletion_cancel_on_sign_in",
        )
        # Sessions follow the account: a new password (changed, set, or reset by email) ends every other session.
        from allauth.account.signals import password_changed, password_reset, password_set

        for signal in (password_changed, password_set, password_reset):
            signal.connect(
                services.user_sessions_end_on_password_receiver,
                sender=User,
                dispatch_uid=f"accounts.sessions_end_on_{id(signal)}",
            )
        # Languages: a person's language is stored at their first sign-in when they never chose one.
        from django.contrib.auth.signals import user_logged_in

        user_logged_in.connect(services.user_language_on_sign_in_receiver, dispatch_uid="accounts.language_on_sign_in")
        privacy.autodiscover()

        # The Site row follows SITE_URL after every migrate (make run and compose migrate at each start).
        from django.db.models.signals import post_migrate

        from mindomo.site import site_sync_receiver

        post_migrate.connect(site_sync_receiver, sender=self, dispatch_uid="accounts.site_sync")

        # The main menu: this app's entries (sign in/out, profile, your data, the staff site).
        from mindomo.navigation import registry as navigation

        from . import navigation as menu

        navigation.items(menu.menu_items)
        from mindomo.navigation import remember_on_sign_in

        user_logged_in.connect(remember_on_sign_in, dispatch_uid="mindomo.navigation.remember_on_sign_in")
