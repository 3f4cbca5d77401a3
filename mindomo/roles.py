"""The staff roles' group names (data, so not translated). Any app may check membership by these names;
privacy/roles.py grants each group its permissions after every migrate."""

SUPPORT_GROUP = "Support"
BILLING_CLERK_GROUP = "Billing clerk"
PRIVACY_OFFICER_GROUP = "Privacy officer"
