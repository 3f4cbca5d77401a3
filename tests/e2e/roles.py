"""Every role of the product, signed in a browser: the demo data (``manage.py demo_data``) provides one of each.

Shared by the browser tests of the menus, the crawl (axe and phone width) and the screenshots.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.test import Client

# The menu each role sees, in order, by its visible labels.
ROLE_MENUS: dict[str, list[str]] = {
    "anonymous": ["Home", "Parents", "Sign in", "Sign up"],
    "adult": ["Home", "Plans", "Profile", "Your data", "Sign out"],
    "buyer": ["Home", "Plans", "Invoices", "Profile", "Your data", "Sign out"],
    "child": ["Home", "Join a class", "Profile", "Your data", "Sign out"],
    "school student": ["Home", "My grades", "Profile", "Sign out"],
    "teacher": ["Home", "Plans", "Classes", "Profile", "Your data", "Sign out"],
    "school administrator": ["Home", "Plans", "Your school", "Profile", "Your data", "Sign out"],
    "parent in the portal": ["Home", "Your children", "Sign out"],
    "staff": ["Home", "Staff site", "Profile", "Your data", "Sign out"],
}

# Where each role starts; the crawl then follows every link it finds on our pages.
ROLE_SEEDS: dict[str, list[str]] = {
    "anonymous": [
        "/",
        "/accounts/login/",
        "/accounts/signup/",
        "/accounts/password/reset/",
        "/consent/age/",
        "/consent/parents/",
        "/grading/sign-in/",
        "/privacy/",
        "/privacy/retention/",
        "/cookies/",
        "/account/support/",
        "/no-such-page/",
    ],
    "adult": ["/", "/account/profile/", "/accounts/email/", "/accounts/password/change/", "/accounts/3rdparty/"],
    "buyer": ["/", "/billing/", "/billing/invoices/"],
    "child": ["/", "/account/profile/", "/accounts/password/change/", "/grading/join/"],
    "school student": ["/", "/grading/my-grades/"],
    "teacher": ["/", "/grading/", "/grading/classes/", "/grading/exports/"],
    "school administrator": ["/", "/grading/"],
    "parent in the portal": ["/consent/parents/children/"],
    "staff": ["/", "/account/profile/"],
}

LOGINS = {
    "adult": "ada",
    "buyer": "buyer",
    "child": "mia",
    "teacher": "teacher",
    "school administrator": "principal",
    "staff": "support",
}
PORTAL_PARENT = "parent.of.mia@example.com"

# Never followed by the crawl: they sign out, download a file, or belong to Django's own admin.
SKIP_PREFIXES = ("/admin/", "/i18n/", "/static/", "/media/", "/accounts/logout/", "/consent/parents/sign-out/")
SKIP_SUFFIXES = (".pdf", ".zip", ".csv", ".xlsx", "/pdf/", "/download/", "/receipt/", "/file/")


@dataclass
class RoleLogin:
    role: str
    cookies: list[dict[str, Any]]


def load_demo() -> None:
    from mindomo.demo import load_all

    load_all()


def school_student_username() -> str:
    from accounts.models import User

    student = User.objects.filter(school_student_account__isnull=False).order_by("pk").first()
    assert student is not None, "the demo data has a school-registered student"
    return str(student.username)


def cookies_for(role: str, base_url: str, *, parent_email: str = PORTAL_PARENT) -> list[dict[str, Any]]:
    """Session cookies that sign this role in (no cookie for the anonymous visitor). The parent portal's
    session is made directly (the emailed single-use link is proven by test_portal_journey)."""
    from accounts.models import User

    host = urlsplit(base_url).hostname
    if role == "anonymous":
        return []
    if role == "parent in the portal":
        from consent.portal import session as portal

        store = import_module(settings.SESSION_ENGINE).SessionStore()
        store[portal.SESSION_KEY] = {"email": parent_email, "until": 4102444800.0}
        store.create()
        key = store.session_key
    else:
        username = school_student_username() if role == "school student" else LOGINS[role]
        from tests.support.mfa import sign_in

        client = sign_in(Client(), User.objects.get(username=username))  # staff with their second factor
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return [{"name": settings.SESSION_COOKIE_NAME, "value": key, "domain": host, "path": "/"}]


def menu_labels(page: Any) -> list[str]:
    nav = page.get_by_role("navigation", name="Main")
    return [text.strip() for text in nav.locator("a, button").all_inner_texts()]


def same_site_links(page: Any, base_url: str) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    found = []
    for href in hrefs:
        if not href.startswith(base_url):
            continue
        path = urlsplit(href).path
        if path.startswith(SKIP_PREFIXES) or path.endswith(SKIP_SUFFIXES):
            continue
        found.append(path + (("?" + urlsplit(href).query) if urlsplit(href).query else ""))
    return found
