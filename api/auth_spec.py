"""allauth's headless OpenAPI document, served at its usual address /_allauth/openapi.json.

allauth's own view cannot serialise a translated help text of our sign-up form (a lazy string), so we build the
same document with allauth's ``get_schema()`` and Django's JSON encoder, which writes lazy strings as text.
"""

from __future__ import annotations

import json

import yaml
from allauth.headless.spec.internal.schema import get_schema
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET


def _document() -> str:
    return json.dumps(get_schema(), cls=DjangoJSONEncoder)


@require_GET
def allauth_openapi(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        _document(),
        content_type="application/vnd.oai.openapi+json",
        headers={"Content-Disposition": "inline; filename=allauth-openapi.json"},
    )


@require_GET
def allauth_openapi_yaml(request: HttpRequest) -> HttpResponse:
    return HttpResponse(
        yaml.safe_dump(json.loads(_document())),
        content_type="application/vnd.oai.openapi",
        headers={"Content-Disposition": "inline; filename=allauth-openapi.yaml"},
    )


# Included before allauth's own URLs (HEADLESS_SERVE_SPECIFICATION stays on: the document names its address).
urlpatterns = [
    path("openapi.json", allauth_openapi, name="allauth_openapi"),
    path("openapi.yaml", allauth_openapi_yaml, name="allauth_openapi_yaml"),
]
