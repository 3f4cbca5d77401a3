"""The accounts app's menu entries: signing in and out, the profile, your data, the staff site."""

from __future__ import annotations

from collections.abc import Iterator

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mindomo.navigation import NavItem, Viewer


def menu_items(viewer: Viewer) -> Iterator[NavItem]:
    if not viewer.signed_in:
        yield NavItem("sign_in", _("Sign in"), reverse("account_login"), order=90)
        yield NavItem("sign_up", _("Sign up"), reverse("account_signup"), order=91, kind="button")
        return
    if viewer.user.is_staff:
        yield NavItem("staff", _("Staff site"), reverse("admin:index"), order=60)
    yield NavItem("profile", _("Profile"), reverse("accounts:profile"), order=70)
    # A school-registered account's data requests go through its school (FERPA); the school answers them.
    if not viewer.is_("school_account"):
        yield NavItem("your_data", _("Your data"), reverse("accounts:data_export"), order=75)
    yield NavItem("sign_out", _("Sign out"), reverse("account_logout"), order=99, kind="post")
