from __future__ import annotations

from uuid import UUID

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.core import ratelimit
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language

from . import selectors, services
from .forms import AccountDeletionConfirmForm, AccountDeletionPasswordForm, ProfileForm, SupportInquiryForm
from .http import AuthenticatedRequest
from .models import DataExport, User


@csrf_exempt
@require_POST
def language_set(request: HttpRequest) -> HttpResponseBase:
    """The language switcher: Django's set_language (cookie, redirect back), stored on the account too.

    Exempt from CSRF on purpose: a forged post can only change the display language, and without a token
    the switcher on every page sets no CSRF cookie and keeps public pages identical for every visitor.
    """
    response = set_language(request)
    if request.user.is_authenticated:
        services.user_language_set(user=request.user, language=request.POST.get("language", ""))
    return response


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    if selectors.user_is_child_or_school_account(user):
        # Children and school-registered accounts were never asked a name: nothing to fill in here.
        if request.method == "POST":
            return HttpResponseNotAllowed(["GET"])
        return render(
            request,
            "accounts/profile_child.html",
            {"school_account": selectors.user_is_school_account(user), "has_password": user.has_usable_password()},
        )
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            form.save(user=user)
            messages.success(request, _("Your profile has been saved."))
            return redirect("accounts:profile")
    else:
        form = ProfileForm(
            initial={
                "first_name": user.first_name,
                "last_name": user.last_name,
                "country": user.country,
                "product_updates": user.product_updates,
            },
        )
    return render(request, "accounts/profile.html", {"form": form})


# --- Data subject rights: export, deletion, support ---------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def data_export(request: AuthenticatedRequest) -> HttpResponse:
    """Ask for a copy of your data and follow its progress (a status region polls the export's status URL)."""
    if request.method == "POST":
        try:
            services.data_export_request(user=request.user)
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(
                request,
                _("We are collecting your data. We will email you when it is ready.")
                if request.user.email
                else _("We are collecting your data. It will be ready on this page in a moment."),
            )
        return redirect("accounts:data_export")
    exports = list(selectors.data_exports_visible_to(viewer=request.user).order_by("-requested_at")[:5])
    in_progress = next((e for e in exports if e.state in (DataExport.State.PENDING, DataExport.State.BUILDING)), None)
    return render(
        request,
        "accounts/data_export.html",
        {
            "exports": exports,
            "in_progress": in_progress,
            "now": timezone.now(),
            "ttl_days": settings.DATA_EXPORT_TTL_DAYS,
            "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        },
    )


@login_required
@require_GET
def data_export_status(request: AuthenticatedRequest, public_id: UUID) -> JsonResponse:
    """The progress of one export, for the page's status region (static/js/site.js polls it)."""
    export = get_object_or_404(selectors.data_exports_visible_to(viewer=request.user), public_id=public_id)
    finished = export.state not in (DataExport.State.PENDING, DataExport.State.BUILDING)
    ready = export.state == DataExport.State.READY
    if ready:
        text = _("Your copy is ready.")
    elif export.state == DataExport.State.FAILED:
        text = _("The export could not be built. Please ask again.")
    elif finished:
        text = _("Expired: the file was deleted.")
    else:
        text = ngettext(
            "%(done)s of %(total)s part collected", "%(done)s of %(total)s parts collected", export.parts_total
        ) % {"done": export.parts_done, "total": export.parts_total}
    data: dict[str, object] = {
        "state": export.state,
        "done": export.parts_done,
        "total": export.parts_total,
        "text": text,
        "finished": finished,
    }
    if ready:
        data["link_url"] = reverse("accounts:data_export_download", args=[export.public_id])
        data["link_label"] = _("Download (zip)")
    return JsonResponse(data, headers={"Cache-Control": "no-store"})


@login_required
@require_GET
def data_export_download(request: AuthenticatedRequest, public_id: UUID) -> HttpResponseBase:
    """The archive, to its owner only (someone else's export looks the same as none)."""
    export = get_object_or_404(selectors.data_exports_visible_to(viewer=request.user), public_id=public_id)
    handle = services.data_export_open(export)
    if handle is None:
        return render(request, "accounts/data_export_gone.html", {"export": export}, status=410)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"mindomo-data-{export.ready_at:%Y-%m-%d}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: AuthenticatedRequest) -> HttpResponse:
    """Delete the account: the password again, or (without a password) a fresh sign-in with a linked service."""
    user = request.user
    has_password = user.has_usable_password()
    provider = None if has_password else selectors.recent_social_reauthentication(request=request, viewer=user)
    form: forms.Form | None
    if has_password:
        form = AccountDeletionPasswordForm(request.POST if request.method == "POST" else None, user=user)
    elif provider:
        form = AccountDeletionConfirmForm(request.POST if request.method == "POST" else None)
    else:
        form = None
    if request.method == "POST":
        if form is None:
            messages.error(request, _("Please sign in again with your connected service first."))
            return redirect("accounts:account_delete")
        limited = ratelimit.consume_or_429(request, action="reauthenticate", user=user)
        if limited:
            return limited
        if form.is_valid():
            try:
                services.account_deletion_request(
                    user=user, reauthenticated_by="password" if has_password else f"socialaccount:{provider}"
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                logout(request)
                return redirect("accounts:account_delete_done")
    return render(
        request,
        "accounts/account_delete.html",
        {
            "form": form,
            "has_password": has_password,
            "provider": provider,
            "social_accounts": [] if has_password else selectors.social_accounts_of(viewer=user),
            "grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS,
        },
    )


@require_GET
def account_delete_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/account_delete_done.html", {"grace_days": settings.ACCOUNT_DELETION_GRACE_DAYS})


@require_http_methods(["GET", "POST"])
def support(request: HttpRequest) -> HttpResponse:
    """The contact form, for visitors and signed-in people alike."""
    user = request.user if isinstance(request.user, User) and request.user.is_authenticated else None
    initial = {"name": user.get_full_name(), "email": user.email} if user is not None else {}
    form = SupportInquiryForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.support_inquiry_submit(
                user=user,
                client_ip=get_account_adapter(request).get_client_ip(request),
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                topic=form.cleaned_data["topic"],
                message=form.cleaned_data["message"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Thank you. We received your message and will answer by email."))
            return redirect("accounts:support")
    return render(
        request,
        "accounts/support.html",
        {"form": form, "retention_days": settings.SUPPORT_INQUIRY_RETENTION_DAYS},
    )
