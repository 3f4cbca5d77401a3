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

        # A child's data for the parent, prepared off the request (mindomo.downloads)
        from .portal import downloads

        downloads.register()
        account_hooks.email_verification_waived.register(signup.email_verification_waived)
        account_hooks.account_is_school_registered.register(signup.account_is_school_registered)
        account_hooks.inactive_reason.register(signup.inactive_reason)

        # The outbox tells when an email went out: the consent record keeps the email-plus follow-up's time.
        from mindomo.outbox import hooks as outbox_hooks

        from . import emails

        outbox_hooks.delivery_sent.register(emails.follow_up_sent)

        # A school registers a student: consent records the school's consent and the parents' addresses.
        from schools import hooks as school_hooks

        from . import selectors, services

        school_hooks.students_registered.register(services.school_students_registered)
        school_hooks.guardian_emails_clean.register(services.school_guardian_emails_clean)
        school_hooks.guardians_set.register(services.school_guardians_set)
        school_hooks.guardians_by_child.register(selectors.school_guardians_by_child)

        # The main menu: who is a child or a school's account, "Parents", and the portal's own menu.
        from mindomo.navigation import registry as navigation

        from . import navigation as menu

        navigation.fact("child", menu.is_child)
        navigation.fact("school_account", menu.is_school_account)
        navigation.items(menu.portal_menu, takes_over=True)
        navigation.items(menu.menu_items)
