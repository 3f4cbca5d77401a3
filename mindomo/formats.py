"""Numbers, money and times in the reader's locale (pages, emails and PDFs use the same functions)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency, format_percent, get_currency_symbol
from django.utils import formats, timezone

from .i18n import babel_locale


def money(amount: Decimal | int | float | str | None, currency: str, language: str | None = None) -> str:
    """``amount`` in ``currency`` as the locale writes it: "€71.40" in en, "71,40 €" in de, fr, es, ro."""
    if amount is None or amount == "":
        return ""
    text = format_currency(Decimal(str(amount)), currency, locale=babel_locale(language))
    # Where the locale's data spells the code ("71,40 EUR" in ro) but the currency has a sign ("€"), use the
    # sign, as people write it and as the other languages show it.
    sign = get_currency_symbol(currency, locale="en")
    if len(sign) == 1 and not sign.isalpha():
        text = text.replace(currency, sign)
    return text


def percent(value: Decimal | int | float | str, language: str | None = None) -> str:
    """A rate in percent (19, 5.5) with the sign, as the locale writes it: "5.5%" in en, "5,5 %" in de and fr."""
    locale = babel_locale(language)
    pattern = Locale.parse(locale).percent_formats[None].pattern.split(";")[0].replace("#,##0", "#,##0.##", 1)
    return format_percent(Decimal(str(value)) / 100, format=pattern, locale=locale)


def when(value: datetime | None, *, with_time: bool = True) -> str:
    """An aware datetime in the current time zone with the locale's format, the zone named ("… UTC")."""
    if value is None:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    if not with_time:
        return formats.date_format(local, "DATE_FORMAT")
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {local.tzname() or timezone.get_current_timezone_name()}"
