"""Writes: a signed-in adult's cookie choice, and one opted-in page view added to the day's count."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from consent.selectors import is_child_account, is_school_consented

from .models import CookieChoice, CookieConsent, PageViewCount
from .selectors import is_excluded_namespace, page_route


def _refuse_children(user: User) -> None:
    if is_child_account(user) or is_school_consented(user):
        raise ValidationError(
            _("Analytics are never used for this account, so there is no choice to make."), code="not_offered"
        )


@transaction.atomic
def cookie_consent_record(*, user: User, choice: str, now: datetime.datetime | None = None) -> CookieConsent:
    """Keep a signed-in adult's cookie choice so it follows them to every browser they sign in on."""
    if choice not in CookieChoice.values:
        raise ValidationError(_("Please choose one of the options."), code="invalid_choice")
    _refuse_children(user)
    consent, _created = CookieConsent.objects.update_or_create(
        user=user, defaults={"choice": choice, "decided_at": now or timezone.now()}
    )
    return consent


_INCREMENT_SQL = """
    INSERT INTO {table} (path, day, count) VALUES (%s, %s, 1)
    ON CONFLICT (path, day) DO UPDATE SET count = {table}.count + 1
"""


@transaction.atomic
def page_view_record(*, path: str, day: datetime.date) -> str:
    """Add one view of the page at ``path`` to the day's count; returns the URL pattern that was counted.

    Only the page's URL pattern and the day are kept: nothing about who viewed it.
    """
    found = page_route(path)
    if found is None:
        raise ValidationError(_("This is not a page of this site."), code="unknown_page")
    route, namespace = found
    if is_excluded_namespace(namespace):
        raise ValidationError(_("Views of this page are never counted."), code="excluded_page")
    table = connection.ops.quote_name(PageViewCount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_INCREMENT_SQL.format(table=table), [route, day])
    return route
