"""The consent app's menu entries: "Parents" for visitors, and the parent portal's own menu for a parent
signed in there (it replaces every other entry: no "Sign in / Sign up" for a parent who is signed in)."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mindomo.navigation import NavItem, Viewer

from . import selectors
from .portal.session import portal_email


def is_child(request: HttpRequest) -> bool:
    return selectors.is_child_account(request.user)


def is_school_account(request: HttpRequest) -> bool:
    return selectors.is_school_consented(request.user)


def portal_menu(viewer: Viewer) -> Iterator[NavItem]:
    """A parent signed in to the portal (and not to an account in this browser) sees the portal's menu."""
    if viewer.signed_in or not portal_email(viewer.request):
        return
    yield NavItem("portal_children", _("Your children"), reverse("consent:portal_children"), order=10)
    yield NavItem("portal_sign_out", _("Sign out"), reverse("consent:portal_sign_out"), order=99, kind="post")


def menu_items(viewer: Viewer) -> Iterator[NavItem]:
    match = getattr(viewer.request, "resolver_match", None)
    # the age screen stays neutral: nothing there says who the product is for
    if not viewer.signed_in and not (match and match.view_name == "consent:age_gate"):
        yield NavItem("parents", _("Parents"), reverse("consent:portal"), order=80)
