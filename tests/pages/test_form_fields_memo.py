"""``{% form_fields form %}`` (mindomo/templatetags/mindomo_forms.py): an empty form that opts in is drawn once per
process for each language, time zone and initial value; a bound form is drawn every time."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils import translation

from grading.forms import AssignmentForm, ClassEndForm
from mindomo.templatetags import mindomo_forms
from mindomo.templatetags.mindomo_forms import form_fields


class PlainForm(forms.Form):
    name = forms.CharField(label="Name")


def test_an_empty_form_is_remembered_per_language_and_initial_value(settings: Any) -> None:
    settings.DEBUG = False
    mindomo_forms._MEMO.clear()
    with translation.override("en"):
        english = form_fields(AssignmentForm())
        assert english == render_to_string("_form_fields.html", {"form": AssignmentForm()})  # what the include draws
        assert form_fields(AssignmentForm()) is english  # the second page takes it from memory
    with translation.override("de"):
        german = form_fields(AssignmentForm())
        label = str(AssignmentForm.base_fields["title"].label)
    assert label != "Title"
    assert label in german
    assert "Title" not in german
    assert len(mindomo_forms._MEMO) == 2

    ends = form_fields(ClassEndForm(initial={"ends_on": datetime.date(2027, 6, 30)}))
    no_end = form_fields(ClassEndForm(initial={"ends_on": None}))
    assert 'value="2027-06-30"' in ends
    assert "2027-06-30" not in no_end
    assert len(mindomo_forms._MEMO) == 4


def test_a_bound_form_or_one_that_does_not_opt_in_is_drawn_every_time(settings: Any) -> None:
    settings.DEBUG = False
    mindomo_forms._MEMO.clear()
    bound = form_fields(AssignmentForm({"title": "Essay <1>", "due_date": "not a date", "max_score": "5"}))
    assert "Essay &lt;1&gt;" in bound
    assert 'aria-invalid="true"' in bound
    assert 'value="Essay' not in form_fields(AssignmentForm())
    form_fields(PlainForm())
    assert len(mindomo_forms._MEMO) == 1  # only the empty AssignmentForm


def test_nothing_is_remembered_with_debug_on(settings: Any) -> None:
    settings.DEBUG = True
    mindomo_forms._MEMO.clear()
    form_fields(AssignmentForm())
    assert not mindomo_forms._MEMO
