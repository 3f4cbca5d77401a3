"""``{% form_fields form %}`` (a builtin: every template has it): a form's fields drawn by ``_form_fields.html``
as ``{% include "_form_fields.html" with form=form %}`` draws them, remembered per process for the empty forms
that allow it.

Django draws every field through the widget templates (a few hundred microseconds a form): for a page drawn
on every request with the same empty form (the gradebook's "Add an assignment", a class's end date), that is a
large part of the page. A form class opts in with ``fields_memo = True`` when its fields' HTML depends only on
what the key holds: the form class, the language, the time zone, the prefix and ``auto_id``, and each field's
initial value (no choices read from the database, no attribute set per request). A bound form (submitted, with
its values and errors) is drawn every time. With ``DEBUG`` on nothing is remembered (templates change).
"""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import SafeString

register = template.Library()

_MEMO: dict[tuple[Any, ...], SafeString] = {}
_MEMO_MAX = 1024  # languages x time zones x initial values of a few forms: cleared when full, never grows


def _memo_key(form: forms.BaseForm) -> tuple[Any, ...] | None:
    if form.is_bound or not getattr(form, "fields_memo", False) or settings.DEBUG:
        return None
    initial = tuple((name, repr(form[name].initial)) for name in form.fields)
    return (
        type(form),
        translation.get_language(),
        timezone.get_current_timezone_name(),
        form.prefix,
        form.auto_id,
        initial,
    )


@register.simple_tag
def form_fields(form: forms.BaseForm) -> SafeString:
    key = _memo_key(form)
    if key is not None:
        html = _MEMO.get(key)
        if html is not None:
            return html
    html = SafeString(render_to_string("_form_fields.html", {"form": form}))
    if key is not None:
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = html
    return html
