from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

BILLING_CLERK_GROUP = "Billing clerk"
# What the billing clerk role may do (privacy/roles.py grants exactly these to the group after every migrate).
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


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")
