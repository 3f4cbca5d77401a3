from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy

from .models import SchoolDomain


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("OneRoster zip file"),
        help_text=gettext_lazy("The CSV bulk export of your student information system (OneRoster 1.1 or 1.2)."),
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > settings.ROSTER_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                gettext_lazy("The file is too large (at most %(mb)d MB).")
                % {"mb": settings.ROSTER_UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        return upload


class RosterConfirmForm(forms.Form):
    confirm_erase = forms.BooleanField(
        required=False,
        label=gettext_lazy("I confirm that the accounts listed above will be deleted, with everything they hold."),
    )


class DomainForm(forms.Form):
    domain = forms.CharField(
        label=gettext_lazy("Email domain"), max_length=253, help_text=gettext_lazy("For example school.example.org")
    )
    provider = forms.ChoiceField(
        label=gettext_lazy("Sign-in service"),
        choices=SchoolDomain.Provider.choices,
    )
    tenant_id = forms.CharField(
        label=gettext_lazy("Microsoft tenant id"),
        required=False,
        max_length=64,
        help_text=gettext_lazy("Only for Microsoft 365: the Tenant ID on the Overview page of Microsoft Entra."),
    )


class SchoolSignInForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Your school email address"))


class TeacherJoinForm(forms.Form):
    """Someone whose school account matched nobody asks to join the school as a teacher."""

    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150)
    teacher = forms.BooleanField(
        error_messages={"required": gettext_lazy("Tick the box if you are a teacher at this school.")},
    )

    def __init__(self, *args: Any, school_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["teacher"].label = gettext_lazy("I am a teacher at %(school)s") % {"school": school_name}


class JoinAnswerForm(forms.Form):
    answer = forms.ChoiceField(choices=[("approve", "approve"), ("decline", "decline")])
