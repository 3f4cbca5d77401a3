from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .cookies import catalogue, write_choice
from .forms import CookieChoiceForm
from .selectors import audience_for, page_route, remember_account_state


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next", "")
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("analytics:settings")


@never_cache
@require_http_methods(["GET", "POST"])
def cookie_settings(request: HttpRequest) -> HttpResponse:
    audience = audience_for(request, fresh=request.method == "POST")
    form = CookieChoiceForm(request.POST if request.method == "POST" else None, initial={"choice": audience.choice})
    status = 200
    if request.method == "POST":
        if not audience.may_opt_in:
            messages.error(request, _("Analytics are never used for this account, so there is no choice to make."))
            status = 403
        elif form.is_valid():
            choice = form.cleaned_data["choice"]
            user: Any = request.user
            try:
                if user.is_authenticated:
                    services.cookie_consent_record(user=user, choice=choice, now=timezone.now())
                    remember_account_state(request, exempt=False, choice=choice)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                status = 403
            else:
                messages.success(request, _("Your cookie choice has been saved."))
                response = redirect(_safe_next(request))
                write_choice(response, choice)
                return response
        else:
            status = 400
    context = {"form": form, "audience": audience, "cookies": catalogue()}
    return render(request, "analytics/settings.html", context, status=status)


@require_POST
def page_view(request: HttpRequest) -> JsonResponse | HttpResponse:
    """Count one page view of an opted-in adult: only the page's URL pattern and the day are kept."""
    path = request.POST.get("path", "")
    found = page_route(path)
    if found is None:
        return JsonResponse({"error": _("This is not a page of this site.")}, status=400)
    if not audience_for(request, namespace=found[1], fresh=True).analytics_on:
        return JsonResponse({"error": _("Page views are counted only for adults who opted in.")}, status=403)
    try:
        services.page_view_record(path=path, day=timezone.now().date())
    except ValidationError as error:
        return JsonResponse({"error": " ".join(error.messages)}, status=400)
    return HttpResponse(status=204)
