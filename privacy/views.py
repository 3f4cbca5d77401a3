from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedRequest
from mindomo.privacy import registry

from . import desk, selectors, services
from .forms import PolicyAcceptForm
from .middleware import SESSION_KEY


def privacy_policy(request: HttpRequest) -> HttpResponse:
    """The version of the privacy policy in force; its text is the version's translatable template, its tables
    are generated from the code's own data (privacy.selectors.policy_notice_context)."""
    version = services.policy_current()
    template = version.template_name if version is not None else "pages/privacy_policy.html"
    context = {"version": version, "declarations": registry.declarations(), **selectors.policy_notice_context()}
    return render(request, template, context)


def age_table(request: HttpRequest) -> HttpResponse:
    """The full age table the age gate applies, with the legal source of each row (linked from the policy)."""
    rows = selectors.age_table()
    return render(request, "privacy/ages.html", {"rows": rows, "ages": selectors.age_summary(rows)})


@login_required
@require_http_methods(["GET", "POST"])
def policy_accept(request: AuthenticatedRequest) -> HttpResponse:
    version = services.policy_current()
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    # A path on this site only: a bare word would be taken for a view name by redirect().
    if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    if version is None:
        return redirect(next_url)
    form = PolicyAcceptForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        services.policy_accept(user=request.user, version=version)
        request.session[SESSION_KEY] = version.pk
        messages.success(request, _("Thank you. You accepted the updated privacy policy."))
        return redirect(next_url)
    return render(request, "privacy/policy_accept.html", {"form": form, "version": version, "next": next_url})


def retention_policy(request: HttpRequest) -> HttpResponse:
    """The written data retention policy, generated from what each app declares."""
    return render(request, "privacy/retention.html", {"sections": selectors.retention_sections()})


@require_http_methods(["GET", "POST"])
def policy_reconsent(request: HttpRequest, token: str) -> HttpResponse:
    """A parent re-consents after a material policy change. GET only shows; POST records."""
    try:
        version, children = services.policy_reconsent_children(token=token)
    except ValidationError as error:
        return render(request, "privacy/link_invalid.html", {"message": error.messages[0]}, status=400)
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(request, _("Please confirm that you are the parent or legal guardian."))
        else:
            services.policy_reconsent(token=token)
            return render(request, "privacy/policy_reconsent_done.html", {"version": version})
    return render(request, "privacy/policy_reconsent.html", {"version": version, "children": children})


@require_http_methods(["GET", "POST"])
def case_verify(request: HttpRequest, token: str) -> HttpResponse:
    """A parent confirms, from the address on the consent record, a request made about their child.
    GET only shows a button (mail scanners open links); the POST records the verification, once."""

    try:
        case = desk.case_verification_open(token=token)
    except ValidationError as error:
        return render(request, "privacy/link_invalid.html", {"message": error.messages[0]}, status=400)
    if request.method == "POST":
        if request.POST.get("confirm") != "yes":
            messages.error(
                request, _("Please confirm that you are the parent or legal guardian and made this request.")
            )
        else:
            try:
                desk.case_verify(token=token)
            except ValidationError as error:
                return render(request, "privacy/link_invalid.html", {"message": error.messages[0]}, status=400)
            return render(request, "privacy/case_verified.html", {"case": case})
    return render(request, "privacy/case_verify.html", {"case": case})
