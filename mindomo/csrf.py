"""CSRF refusals: our page for the site, the API's JSON error body under the API's paths."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext
from django.views.csrf import csrf_failure as page_csrf_failure

from .middleware import api_error_response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    if request.path_info.startswith(tuple(settings.API_PATH_PREFIXES)):
        return api_error_response(
            status=403,
            code="csrf_failed",
            message=gettext(
                "The CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header. Nothing was saved."
            ),
        )
    return page_csrf_failure(request, reason=reason)
