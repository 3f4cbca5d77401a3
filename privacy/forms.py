from django import forms
from django.utils.translation import gettext_lazy as _


class PolicyAcceptForm(forms.Form):
    accept = forms.BooleanField(
        label=_("I have read the updated privacy policy and accept it"),
        error_messages={"required": _("Please tick the box to accept the updated policy, or sign out.")},
    )
