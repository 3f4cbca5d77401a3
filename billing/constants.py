"""billing's public constants (other apps may import this module)."""

from mindomo.roles import BILLING_CLERK_GROUP

__all__ = ["BILLING_CLERK_GROUP", "BILLING_CLERK_PERMISSIONS"]

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
