from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

BILLING_CLERK_GROUP = "Billing clerk"
BILLING_CLERK_PERMISSIONS = [
    "view_plan",
    "add_plan",
    "change_plan",
    "view_vatrate",
    "change_vatrate",
    "view_order",
    "view_invoice",
    "refund_invoice",
    "view_billingevent",
]


def billing_clerk_group_ensure(**kwargs: Any) -> None:
    """The staff role that sees orders and invoices and refunds them (permissions exist after migrate)."""
    from django.contrib.auth.models import Group, Permission

    permissions = Permission.objects.filter(content_type__app_label="billing", codename__in=BILLING_CLERK_PERMISSIONS)
    if permissions.count() != len(BILLING_CLERK_PERMISSIONS):
        return
    group, _created = Group.objects.get_or_create(name=BILLING_CLERK_GROUP)
    group.permissions.add(*permissions)


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        post_migrate.connect(billing_clerk_group_ensure, sender=self)
