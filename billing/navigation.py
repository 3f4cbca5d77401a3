"""The billing app's menu entries: plans for adults who may buy, invoices for those who bought."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from mindomo.navigation import NavItem, Viewer

from . import selectors


def may_buy(request: HttpRequest) -> bool:
    return selectors.purchase_allowed(request.user)


def has_orders(request: HttpRequest) -> bool:
    return selectors.order_list_visible_to(viewer=request.user).exists()


def menu_items(viewer: Viewer) -> Iterator[NavItem]:
    if not viewer.signed_in or viewer.user.is_staff:
        return
    if viewer.is_("may_buy"):
        yield NavItem("plans", _("Plans"), reverse("billing:plan_list"), order=20)
    if viewer.is_("has_orders"):
        yield NavItem("invoices", _("Invoices"), reverse("billing:invoice_list"), order=25)
