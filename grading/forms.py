from __future__ import annotations

import datetime
import functools
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import dateformat
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from accounts.models import User
from schools.models import GRADE_RETENTION_MONTHS_MAX, GRADE_RETENTION_MONTHS_MIN, School
from schools.services import NAME_MAX, USERNAME_MAX, USERNAME_RE, StudentRow

from .models import Assignment
from .selectors import GradebookStudent
from .services import GradeEntry


class ClassForm(forms.Form):
    school = forms.ModelChoiceField(queryset=School.objects.none(), label=gettext_lazy("School"))
    name = forms.CharField(label=gettext_lazy("Class name"), max_length=120)

    def __init__(self, *args: Any, schools: QuerySet[School], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["school"].queryset = schools  # type: ignore[attr-defined]
        if len(schools) == 1:
            self.fields["school"].initial = schools[0]


class AssignmentForm(forms.Form):
    fields_memo = True  # drawn on every gradebook: see mindomo.templatetags.mindomo_forms
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    # a native date picker: the browser shows it in the reader's locale and always sends ISO 8601
    due_date = forms.DateField(
        label=gettext_lazy("Due date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    max_score = forms.DecimalField(
        label=gettext_lazy("Maximum score"), max_digits=6, decimal_places=2, min_value=Decimal("0.01")
    )


class EnrollForm(forms.Form):
    students = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), label=gettext_lazy("Students of the school"), widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, candidates: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["students"].queryset = candidates  # type: ignore[attr-defined]
        self.fields["students"].label_from_instance = lambda u: f"{u.get_full_name()} ({u.username})"  # type: ignore[attr-defined]


class StudentForm(forms.Form):
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=NAME_MAX)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=NAME_MAX)
    username = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=USERNAME_MAX,
        required=False,
        help_text=gettext_lazy("Optional. Leave empty and one is made from the name."),
    )

    parent_email = forms.EmailField(
        label=gettext_lazy("Parent's or guardian's email"),
        required=False,
        help_text=gettext_lazy("Optional. We email them how to see their child's classes and grades."),
    )
    parent_email_2 = forms.EmailField(label=gettext_lazy("Second parent's or guardian's email"), required=False)

    def __init__(self, *args: Any, may_record_parents: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_record_parents:  # only a school administrator records parents
            del self.fields["parent_email"]
            del self.fields["parent_email_2"]

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip()
        if username and not USERNAME_RE.match(username.lower()):
            raise forms.ValidationError(_("A username may hold only letters, digits, dots, dashes and underscores."))
        return username

    def row(self) -> StudentRow:
        data = self.cleaned_data
        parents = tuple(e for e in (data.get("parent_email"), data.get("parent_email_2")) if e)
        return StudentRow(data["first_name"].strip(), data["last_name"].strip(), data["username"], parents)


class StudentParentsForm(forms.Form):
    """The parents or guardians a school administrator records for a student the school registered."""

    parent_email = forms.EmailField(label=gettext_lazy("Parent's or guardian's email"), required=False)
    parent_email_2 = forms.EmailField(label=gettext_lazy("Second parent's or guardian's email"), required=False)

    def emails(self) -> list[str]:
        return [e for e in (self.cleaned_data.get("parent_email"), self.cleaned_data.get("parent_email_2")) if e]


class StudentCsvForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("Columns: first_name, last_name and, optionally, username. One student per line."),
    )


class InviteTeacherForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Teacher's email"))


class LoginCardsForm(forms.Form):
    students = forms.TypedMultipleChoiceField(coerce=int, choices=(), label=gettext_lazy("Students"))

    def __init__(self, *args: Any, student_ids: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["students"].choices = [(i, str(i)) for i in student_ids]  # type: ignore[attr-defined]


class NoticeForm(forms.Form):
    acknowledge = forms.BooleanField(
        label=gettext_lazy("I have read this notice and will share grade reports only as COPPA, FERPA and GDPR allow.")
    )


class StudentSignInForm(AuthenticationForm):
    """Sign-in with the username and password printed on a school login card."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": gettext_lazy("The username or the password is not right. Check your login card."),
    }


def _score_name(student_id: int, assignment_id: int) -> str:
    return f"score-{student_id}-{assignment_id}"


def _feedback_name(student_id: int, assignment_id: int) -> str:
    return f"feedback-{student_id}-{assignment_id}"


class Gradebook:
    """The grid of one class: rows of students, columns of assignments; parses a column or the whole grid."""

    def __init__(
        self,
        *,
        enrollments: list[GradebookStudent],
        assignments: list[Assignment],
        grades: dict[tuple[int, int], tuple[str, str]],
        data: Any = None,
    ) -> None:
        self.enrollments = enrollments
        self.assignments = assignments
        self.grades = grades
        self.data = data
        self.errors: list[str] = []

    def header_html(self, start: int = 0, end: int | None = None) -> SafeString:
        """The column headers of the assignments ``start:end``: title (the cells' accessible names point at
        it), due date, maximum score, the column's save button and its report link. Built in Python like
        the grid: each translated pattern is looked up, and the report's URL reversed, once per page, not
        once per column."""
        due_pattern = _("due %(due)s · out of %(max)s")
        save_pattern = _("Save “%(title)s”")
        report = escape(_("Report"))
        short_date = get_format("SHORT_DATE_FORMAT")
        language = get_language()
        # one reverse() for the page: the URL of assignment 0, its id swapped for each column's
        url_head, _zero, url_tail = reverse("grading:assignment_report", args=[0]).rpartition("/0/")
        cells = []
        for j, a in enumerate(self.assignments[start:end]):
            title = escape(a.title)
            due = escape(
                due_pattern % {"due": _short_date(a.due_date, short_date, language), "max": format_score(a.max_score)}
            )
            save = escape(save_pattern % {"title": a.title})
            url = f"{url_head}/{a.pk}/{url_tail}"
            cells.append(
                f'<th scope="col"><span id="gc{j}">{title}</span><br><span class="muted">{due}</span><br>'
                f'<button type="submit" name="save_column" value="{a.pk}" class="small secondary">{save}</button> '
                f'<a href="{url}">{report}</a></th>'
            )
        return mark_safe("".join(cells))  # noqa: S308 -- titles and translations are escaped above

    def grid_parts(self, enrollments: list[GradebookStudent], start: int = 0, end: int | None = None) -> list[str]:
        """The grid's body (one ``<tr>`` per student of ``enrollments``) for the assignment columns ``start:end``,
        as HTML in parts: each row's header (the student's name) apart from its cells. The page is sent as UTF-8,
        and Python encodes a text that holds one non-ASCII character (an accented name) character by character,
        about 0.5 ms for the whole grid, where a text in plain ASCII (the cells, most of the bytes) is copied at
        once: the parts are encoded one by one (``grading.views``).

        Built here in Python, not by the template language: 200 students x 30 assignments are 6,000 cells
        and 12,000 inputs, which Django templates render in seconds. Every cell is named for screen readers
        through ``aria-labelledby`` to the page's one translated "Score"/"Feedback" label (``gs``, ``gf``),
        the row header (the student, ``gr`` and the row's place on the page) and the column header's title
        (the assignment, ``gc`` and the column's place, ``header_html``): no translated sentence per cell.
        A cell carries only what the browser, the save and the screen reader use (the inputs are text inputs
        by default, their width is the style sheet's, an empty value is left out, the "feedback" placeholder
        only where it can show, in an empty feedback field): a page of 35 students x 30 assignments is about
        1,000 cells, so each byte of a cell is 1 KB of the page.
        Every value that comes from a person (names, submitted or stored text) is escaped.
        """
        columns = [(a.pk, str(a.pk), f"gc{j}") for j, a in enumerate(self.assignments[start:end])]
        data = self.data
        grades = self.grades
        # the placeholder is drawn only where it can show: in an empty feedback field
        empty_feedback = f' maxlength="2000" placeholder="{escape(_("feedback"))}"'
        # A cell is one f-string of ready-made pieces (the row's and the column's parts as text once). The same
        # feedback is often given to many students: each distinct stored text is escaped once per page.
        escaped: dict[str, str] = {"": ""}
        parts = []
        for i, student in enumerate(enrollments):
            sid = student.student_id
            s = str(sid)
            # the parts of a cell that are the same across the row
            score_head = f'<td><input inputmode="decimal" name="score-{s}-'
            score_label = f' aria-labelledby="gs gr{i} '
            feedback_head = f'"><input name="feedback-{s}-'
            feedback_label = f' aria-labelledby="gf gr{i} '
            cells = []
            for aid, a, column in columns:
                if data is not None and f"score-{s}-{a}" in data:
                    score = escape(data.get(f"score-{s}-{a}", ""))
                    feedback = escape(data.get(f"feedback-{s}-{a}", ""))
                else:
                    stored = grades.get((sid, aid))
                    if stored is None:
                        score = feedback = ""
                    else:
                        score, text = stored
                        known = escaped.get(text)
                        if known is None:
                            known = escaped[text] = escape(text)
                        feedback = known
                score_value = f' value="{score}"' if score else ""
                feedback_value = f' value="{feedback}" maxlength="2000"' if feedback else empty_feedback
                cells.append(
                    f'{score_head}{a}"{score_value}{score_label}{column}'
                    f'{feedback_head}{a}"{feedback_value}{feedback_label}{column}"></td>'
                )
            name = escape(f"{student.last_name}, {student.first_name}")
            parts.append(f'<tr><th scope="row" id="gr{i}">{name}</th>')
            cells.append("</tr>")
            parts.append("".join(cells))
        return parts  # every interpolated person's value is escaped above

    def entries(self, *, column: int | None = None) -> list[GradeEntry] | None:
        """The submitted cells (one assignment's column, or all); None and ``errors`` set when invalid."""
        assert self.data is not None
        assignments = [a for a in self.assignments if column is None or a.pk == column]
        if not assignments:
            self.errors.append(_("This assignment is not in the gradebook any more. Reload the page."))
            return None
        entries = []
        for enrollment in self.enrollments:
            sid = enrollment.student_id
            for assignment in assignments:
                name_score = _score_name(sid, assignment.pk)
                if name_score not in self.data:
                    continue  # a student enrolled after the page was loaded: their cells were not on it
                raw = str(self.data.get(name_score, "")).strip().replace(",", ".")
                feedback = str(self.data.get(_feedback_name(sid, assignment.pk), ""))
                score: Decimal | None = None
                if raw:
                    try:
                        score = Decimal(raw)
                    except InvalidOperation:
                        score = None
                    if score is None or not score.is_finite() or score.as_tuple().exponent < -2:  # type: ignore[operator]
                        self.errors.append(
                            _("%(student)s, %(assignment)s: “%(value)s” is not a score.")
                            % {
                                "student": enrollment.full_name,
                                "assignment": assignment.title,
                                "value": raw[:20],
                            }
                        )
                        continue
                    if not (0 <= score <= assignment.max_score):
                        self.errors.append(
                            _("%(student)s, %(assignment)s: the score must be between 0 and %(max)s.")
                            % {
                                "student": enrollment.full_name,
                                "assignment": assignment.title,
                                "max": format_score(assignment.max_score),
                            }
                        )
                        continue
                elif feedback.strip():
                    self.errors.append(
                        _("%(student)s, %(assignment)s: give a score with the feedback.")
                        % {"student": enrollment.full_name, "assignment": assignment.title}
                    )
                    continue
                if len(feedback) > 2000:
                    self.errors.append(
                        _("%(student)s, %(assignment)s: feedback is limited to 2000 characters.")
                        % {"student": enrollment.full_name, "assignment": assignment.title}
                    )
                    continue
                entries.append(GradeEntry(sid, assignment.pk, score, feedback))
        return None if self.errors else entries


@functools.lru_cache(maxsize=4096)
def _short_date(day: datetime.date, short_date: str, language: str | None) -> str:
    """``day`` in the language's short date format (``dateformat.format`` costs about 40 µs, 30 times a
    gradebook page; the language is part of the key, since a format may name the month)."""
    return dateformat.format(day, short_date)


def format_score(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class JoinClassForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Class code"),
        max_length=20,
        help_text=gettext_lazy("Your teacher gives it to you, for example ABCD-EFGH."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"}),
    )


class ClassEndForm(forms.Form):
    fields_memo = True  # its only value is the initial end date: see mindomo.templatetags.mindomo_forms
    ends_on = forms.DateField(
        label=gettext_lazy("Last day of the class"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("For example the last day of the term."),
    )


class GradeRetentionForm(forms.Form):
    months = forms.IntegerField(
        label=gettext_lazy("Months the grades of a class are kept after it ends"),
        min_value=GRADE_RETENTION_MONTHS_MIN,
        max_value=GRADE_RETENTION_MONTHS_MAX,
    )
