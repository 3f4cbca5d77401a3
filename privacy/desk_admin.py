"""The privacy desk in the admin: data-subject request cases (opened by support, acted on by the privacy
officer), the person page (search by username, email, parent email or name), the consent funnel.

Views are thin: a form, one service (privacy.desk) or selector (privacy.desk_selectors), a page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User

from . import desk, desk_selectors, selectors, services
from .funnel_chart import funnel_context
from .models import AccessLog, CaseAction, DataRequestCase

PERSON_PERMISSIONS = ("accounts.view_user", "consent.view_consentrecord")
FUNNEL_PERMISSION = "consent.view_consentrecord"
RECORDS_PERMISSION = "privacy.change_datarequestcase"  # the privacy officer's


def _account_by_login(value: str) -> User | None:
    value = value.strip()
    if not value:
        return None
    user = User.objects.filter(username__iexact=value).first() or User.objects.filter(email__iexact=value).first()
    if user is None:
        raise forms.ValidationError(_("No account has this username or email."))
    return user


class CaseOpenForm(forms.ModelForm):
    account = forms.CharField(
        label=gettext_lazy("Account concerned (username or email)"),
        required=False,
        max_length=254,
        help_text=gettext_lazy("Leave empty if the request names no account yet."),
    )

    class Meta:
        model = DataRequestCase
        fields = ("kind", "source", "requester_email", "requester_relation", "message")

    def clean_account(self) -> User | None:
        return _account_by_login(self.cleaned_data.get("account", ""))


class CaseActionForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("Note"), required=False, max_length=4000, widget=forms.Textarea)


ACTIONS: dict[str, Any] = {
    "send_verification": lambda case, staff, note: desk.case_verification_send(case=case, staff=staff),
    "verified_signed_in": lambda case, staff, note: desk.case_mark_verified(
        case=case, staff=staff, method=DataRequestCase.Verification.SIGNED_IN
    ),
    "verified_school": lambda case, staff, note: desk.case_mark_verified(
        case=case, staff=staff, method=DataRequestCase.Verification.SCHOOL_CONTACT
    ),
    "portal_link": lambda case, staff, note: desk.case_portal_link_send(case=case, staff=staff),
    "export": lambda case, staff, note: desk.case_export(case=case, staff=staff),
    "stop_collection": lambda case, staff, note: desk.case_stop_collection(case=case, staff=staff),
    "suspend": lambda case, staff, note: desk.case_suspend(case=case, staff=staff),
    "record_check": lambda case, staff, note: desk.case_record_check(case=case, staff=staff, note=note),
    "erase": lambda case, staff, note: desk.case_erase(case=case, staff=staff),
    "close": lambda case, staff, note: desk.case_close(case=case, staff=staff, reply=note),
}
ACTION_LABELS = {
    "send_verification": gettext_lazy("Send the verification link to the consent record's address"),
    "verified_signed_in": gettext_lazy("Verified: made while signed in to the account"),
    "verified_school": gettext_lazy("Verified: confirmed by the school's registered contact"),
    "portal_link": gettext_lazy("Send the parent portal sign-in link"),
    "export": gettext_lazy("Run the data export"),
    "stop_collection": gettext_lazy("Stop collection"),
    "suspend": gettext_lazy("Suspend the account now"),
    "record_check": gettext_lazy("Record the check (note required)"),
    "erase": gettext_lazy("Erase through the erasure pipeline"),
    "close": gettext_lazy("Close and send the reply (note = the reply)"),
}


class CaseActionInline(admin.TabularInline):
    model = CaseAction
    fields = ("at", "kind", "staff_label", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DataRequestCase)
class DataRequestCaseAdmin(admin.ModelAdmin):
    list_display = ("number", "kind", "status", "due_on", "urgency_label", "source", "requester_relation", "account")
    list_filter = ("status", "kind", "source")
    search_fields = ("=id", "requester_email", "subject__username", "subject__email")
    inlines = [CaseActionInline]
    change_form_template = "admin/privacy/datarequestcase/change_form.html"
    change_list_template = "admin/privacy/datarequestcase/change_list.html"
    readonly_fields = (
        "kind",
        "source",
        "requester_email",
        "requester_relation",
        "message",
        "account",
        "verification",
        "verified_at",
        "status",
        "due_on",
        "opened_by",
        "opened_at",
        "closed_at",
        "reply",
    )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = CaseOpenForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("kind", "source", "requester_email", "requester_relation", "message", "account")
        return self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else []

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # annotated before the admin orders by the annotation (get_ordering)
        return desk_selectors.cases_by_urgency(DataRequestCase.objects.select_related("subject"))

    def get_ordering(self, request: HttpRequest) -> Any:
        # overdue first, then due soon, then the other open cases, closed last (desk_selectors.cases_by_urgency)
        return ["urgency", "due_on", "pk"]

    @admin.display(description=gettext_lazy("case"), ordering="pk")
    def number(self, obj: DataRequestCase) -> str:
        return f"#{obj.pk}"

    @admin.display(description=gettext_lazy("urgency"))
    def urgency_label(self, obj: Any) -> str:
        return {
            0: _("Overdue"),
            1: _("Due soon"),
            2: _("Open"),
            3: _("Closed"),
        }.get(getattr(obj, "urgency", 2), "")

    @admin.display(description=gettext_lazy("account concerned"))
    def account(self, obj: DataRequestCase) -> str:
        if obj.subject is not None:
            return obj.subject.get_username()
        if obj.subject_id_kept:
            return _("account #%(id)s (erased)") % {"id": obj.subject_id_kept}
        return "—"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # acting on a case is the privacy officer's; support opens cases and sees them
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: DataRequestCase, form: Any, change: bool) -> None:
        if change:
            return  # a case changes only through its actions
        case = desk.case_open(
            staff=request.user,  # type: ignore[arg-type]
            kind=obj.kind,
            source=obj.source,
            requester_email=obj.requester_email,
            requester_relation=obj.requester_relation,
            subject=form.cleaned_data.get("account"),
            message=obj.message,
        )
        obj.pk = case.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return None

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return HttpResponseRedirect(request.get_full_path())

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        if request.method == "POST":  # a case changes only through its actions (act_view), never by this form
            return HttpResponseRedirect(request.path)
        extra_context = extra_context or {}
        may_act = request.user.has_perm("privacy.change_datarequestcase")
        extra_context["case_actions"] = list(ACTION_LABELS.items()) if may_act else []
        extra_context["action_form"] = CaseActionForm()
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:case_id>/act/<str:action>/", wrap(self.act_view), name="privacy_datarequestcase_act"),
            path("person/", wrap(self.person_search_view), name="privacy_person_search"),
            path("person/<int:user_id>/", wrap(self.person_view), name="privacy_person"),
            path("funnel/", wrap(self.funnel_view), name="privacy_consent_funnel"),
            path("records/", wrap(self.records_view), name="privacy_processing_records"),
            path("records.md", wrap(self.records_download), name="privacy_processing_records_download"),
            *super().get_urls(),
        ]

    # --- actions on a case (POST only, privacy officer) -----------------------------------------------
    def act_view(self, request: HttpRequest, case_id: int, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        if not request.user.has_perm("privacy.change_datarequestcase") or action not in ACTIONS:
            raise PermissionDenied
        case = get_object_or_404(DataRequestCase, pk=case_id)
        form = CaseActionForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        try:
            result = ACTIONS[action](case, request.user, note)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            if action == "erase" and result is False:
                messages.warning(request, _("The erasure failed; the pipeline retries it. See the erasure run."))
            else:
                messages.success(request, _("Done: %(action)s.") % {"action": ACTION_LABELS[action]})
        return HttpResponseRedirect(reverse("admin:privacy_datarequestcase_change", args=[case_id]))

    # --- the person page ------------------------------------------------------------------------------
    def _may_see_people(self, request: HttpRequest) -> None:
        if not any(request.user.has_perm(p) for p in PERSON_PERMISSIONS):
            raise PermissionDenied

    def person_search_view(self, request: HttpRequest) -> HttpResponse:
        self._may_see_people(request)
        query = request.GET.get("q", "")[:254]
        results = list(desk_selectors.person_search(query=query)) if query.strip() else []
        context = {
            **self.admin_site.each_context(request),
            "title": _("Find a person"),
            "query": query,
            "results": results,
            "searched": bool(query.strip()),
        }
        return TemplateResponse(request, "admin/privacy/person_search.html", context)

    def person_view(self, request: HttpRequest, user_id: int) -> HttpResponse:
        self._may_see_people(request)
        person = get_object_or_404(User, pk=user_id)
        page = desk_selectors.person_page(person=person, viewer=request.user)
        # opening a person's page is itself an access to their data
        services.access_log_record(staff=request.user, action=AccessLog.Action.VIEW, obj=person, subject_id=person.pk)  # type: ignore[arg-type]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Person: %(username)s") % {"username": person.get_username()},
            "person": person,
            "page": page,
            "sections": page.sections,
            "now": timezone.now(),
        }
        return TemplateResponse(request, "admin/privacy/person.html", context)

    # --- the consent funnel ---------------------------------------------------------------------------
    def funnel_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm(FUNNEL_PERMISSION):
            raise PermissionDenied

        context = {
            **self.admin_site.each_context(request),
            "title": _("Consent funnel, last 12 weeks"),
            **funnel_context(desk_selectors.consent_funnel()),
        }
        return TemplateResponse(request, "admin/privacy/funnel.html", context)

    # --- the record of processing activities (GDPR Art. 30) ---------------------------------------------
    def _records_context(self, request: HttpRequest) -> dict[str, Any]:
        if not request.user.has_perm(RECORDS_PERMISSION):
            raise PermissionDenied
        return {"records": selectors.processing_records(), "generated_on": timezone.localdate()}

    def records_view(self, request: HttpRequest) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record of processing activities (GDPR Art. 30)"),
            **self._records_context(request),
        }
        return TemplateResponse(request, "admin/privacy/records.html", context)

    def records_download(self, request: HttpRequest) -> HttpResponse:
        text = render_to_string("privacy/records_of_processing.md", self._records_context(request))
        response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="records-of-processing.md"'
        return response
