from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender: Any, **kwargs: Any) -> None:
    # apps.py is imported before the app registry is ready; the services (and their models) only once it is.
    from .services import staff_roles_sync

    staff_roles_sync()


class PrivacyConfig(AppConfig):
    """Privacy operations across the apps: staff roles and access log, retention engine, disclosure
    register, notices to users and the versioned privacy policy."""

    name = "privacy"
    verbose_name = _("Privacy operations")

    def ready(self) -> None:
        # Imports here: models are loaded only once the app registry is ready.
        from accounts import hooks as account_hooks
        from consent import hooks as consent_hooks
        from mindomo import audit as audit_hooks

        from . import audit, selectors, services

        account_hooks.account_created.register(services.policy_accept_on_sign_up)
        consent_hooks.policy_accept.register(services.policy_accept_version)
        consent_hooks.policy_version.register(services.policy_version_in_force)
        consent_hooks.staff_accesses.register(selectors.access_log_rows)
        audit_hooks.staff_accessed.register(services.access_log_record_many)

        # After every migrate, roles get the permissions of models that exist now (as contrib.auth creates them).
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="privacy.sync_roles")
        audit.install()

        from allauth.account.decorators import secure_admin_login
        from allauth.mfa import signals as mfa_signals
        from django.contrib import admin
        from django.contrib.auth.signals import user_logged_in

        from . import staff_security

        # The admin's sign-in is allauth's: the same rate limits (per address and per account), the second
        # factor, the same session handling. A signed-in account that is not staff gets a 403 there.
        admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

        user_logged_in.connect(staff_security.staff_logged_in_receiver, dispatch_uid="privacy.staff_logged_in")
        changed = staff_security.authenticators_changed_receiver
        mfa_signals.authenticator_added.connect(changed, dispatch_uid="privacy.mfa_added")
        mfa_signals.authenticator_removed.connect(changed, dispatch_uid="privacy.mfa_removed")
        mfa_signals.authenticator_reset.connect(changed, dispatch_uid="privacy.mfa_reset")
