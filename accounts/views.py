from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from mindomo.http import AuthenticatedRequest
from mindomo.privacy import registry

from .forms import ProfileForm


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/home.html")


def privacy_policy(request: HttpRequest) -> HttpResponse:
    return render(request, "pages/privacy_policy.html", {"declarations": registry.declarations()})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
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
            }
        )
    return render(request, "accounts/profile.html", {"form": form})
