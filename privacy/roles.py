"""Staff roles with least privilege. Each role is a group (created by a migration); its permissions are
granted from this table after every migrate, so models added later by an app join the right role."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from billing.constants import BILLING_CLERK_PERMISSIONS
from mindomo.roles import BILLING_CLERK_GROUP, PRIVACY_OFFICER_GROUP, SUPPORT_GROUP

ALL = "*"
CUSTOM = "custom"  # the model's own permissions (beyond view/add/change/delete), e.g. billing's refund


@dataclass(frozen=True)
class Grant:
    app_label: str
    model: str  # a model name, or ALL for every model of the app
    actions: tuple[str, ...]  # "view", "add", "change", "delete", CUSTOM, or ALL
    codenames: tuple[str, ...] = ()  # exact permissions, when an app names its role's needs itself


@dataclass(frozen=True)
class Role:
    group: str  # the group's name (data, so not translated)
    label: object
    grants: tuple[Grant, ...]


SUPPORT = Role(
    group=SUPPORT_GROUP,
    label=_("Support: users' contact details and support inquiries; no billing, consent records or grades"),
    grants=(
        Grant("accounts", "user", ("view", "change")),
        Grant("account", "emailaddress", ("view",)),
        Grant("schools", "school", ("view",)),
        Grant("schools", "schoolmembership", ("view",)),
        Grant("schools", "teacherjoinrequest", ("view",)),
        Grant("accounts", "supportinquiry", ("view", "change", "delete")),
        Grant("outbox", "delivery", ("view",)),  # "did my email go out?"
        # the privacy desk: support opens data-request cases and follows them; acting on them is the officer's
        Grant("privacy", "datarequestcase", ("view", "add")),
        Grant("privacy", "caseaction", ("view",)),
    ),
)
BILLING_CLERK = Role(
    group=BILLING_CLERK_GROUP,
    label=_("Billing clerk: plans, orders, invoices, credit notes and refunds; no consent records or grades"),
    # billing names exactly what its clerk needs (no editing of invoices: a refund issues a credit note)
    grants=(Grant("billing", ALL, (), codenames=tuple(BILLING_CLERK_PERMISSIONS)),),
)
PRIVACY_OFFICER = Role(
    group=PRIVACY_OFFICER_GROUP,
    label=_("Privacy officer: consent records, data requests, the disclosure register, notices, the access log"),
    grants=(
        Grant("consent", ALL, ("view",)),
        Grant("consent", "signedconsentform", ("change",)),  # reviews parents' signed consent forms
        Grant("privacy", ALL, ("view", "add", "change")),
        Grant("privacy", "accesslog", ("view",)),
        Grant("accounts", "user", ("view",)),
        Grant("accounts", "accountdeletionrequest", ("view", "change")),
        Grant("accounts", "dataexport", ("view",)),
        Grant("accounts", "erasurestep", ("view", "change")),
        Grant("grading", "grade", ("view",)),
        Grant("outbox", "delivery", ("view", CUSTOM)),  # sees failed emails and sends them again
    ),
)
ROLES = (SUPPORT, BILLING_CLERK, PRIVACY_OFFICER)
