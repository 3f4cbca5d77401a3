"""The JSON API's own endpoints (django-ninja): /api/v1/..., the schema at /api/openapi.json, the reference
page at /api/docs/ (Swagger UI from ninja's bundled static files: first-party, no inline script)."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from . import billing, errors, grading, me, portal, schools, signup
from .auth import USER_AUTH

DESCRIPTION = """\
Mindomo's JSON API: the same rules, services and selectors as the web pages.

**Authentication** is django-allauth's headless API, documented in its own OpenAPI document:
[/_allauth/openapi.json](/_allauth/openapi.json) (also [YAML](/_allauth/openapi.yaml)). Two clients:

* `app` (mobile apps): `/_allauth/app/v1/...`; after signing in, send the session token in the
  `X-Session-Token` header here.
* `browser` (a single-page app on our domain): `/_allauth/browser/v1/...`; the session cookie, and the
  `csrftoken` cookie's value in `X-CSRFToken` on every write.

**Sign-up** starts with `POST /api/v1/age-gate/`: its `decision_token` goes in the `X-Age-Decision` header of
allauth's sign-up (and provider sign-up) for an adult, or of `POST /api/v1/child-signup/` for a child.

**Errors** are `{"errors": [{"code", "message", "param"}]}`, messages in the `Accept-Language` language
(en, ro, de, fr, es).
"""

api = NinjaAPI(
    title="Mindomo API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    docs=Swagger(settings={"deepLinking": True, "persistAuthorization": False}),
    docs_url="/docs/",
    openapi_url="/openapi.json",
    auth=USER_AUTH,
    openapi_extra={
        "externalDocs": {
            "description": "Authentication: django-allauth's headless API (its own OpenAPI document)",
            "url": "/_allauth/openapi.json",
        }
    },
)
errors.install(api)
api.add_router("/v1/", signup.router)
api.add_router("/v1/", me.router)
api.add_router("/v1/", portal.router)
api.add_router("/v1/", billing.router)
api.add_router("/v1/", grading.router)
api.add_router("/v1/", schools.router)
