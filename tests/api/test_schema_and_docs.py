"""The OpenAPI documents (ours and allauth's), the reference page under our CSP, CORS closed by default."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
import yaml
from django.test import Client
from schemathesis.specs.openapi.definitions import OPENAPI_30, OPENAPI_31

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/openapi.json", "/_allauth/openapi.json", "/_allauth/openapi.yaml"])
def test_both_openapi_documents_are_served_and_valid(client: Client, url: str) -> None:
    """Ours is OpenAPI 3.1 (django-ninja's generated schema); allauth's is the 3.0 document allauth ships."""
    response = client.get(url)
    assert response.status_code == 200
    document: dict[str, Any] = yaml.safe_load(response.content) if url.endswith(".yaml") else response.json()
    expected = "3.1" if url.startswith("/api/") else "3.0"
    assert document["openapi"].startswith(expected)
    jsonschema_rs.validator_for(OPENAPI_31 if expected == "3.1" else OPENAPI_30).validate(document)


def test_no_object_of_our_document_repeats_a_key(client: Client) -> None:
    """JSON parsers keep the last of two equal keys; Swagger UI's refuses the document (it did: "200" twice)."""
    repeated: list[list[str]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _value in items]
        if len(set(keys)) != len(keys):
            repeated.append(keys)
        return dict(items)

    json.loads(client.get("/api/openapi.json").content, object_pairs_hook=pairs)
    assert repeated == []


def test_our_document_links_allauths_at_a_stable_url(client: Client) -> None:
    document = client.get("/api/openapi.json").json()
    assert document["externalDocs"]["url"] == "/_allauth/openapi.json"
    assert "/api/v1/age-gate/" in document["paths"]


def test_every_operation_documents_the_error_body(client: Client) -> None:
    document = client.get("/api/openapi.json").json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status in ("400", "401", "403", "404", "429"):
                assert status in operation["responses"], (method, path, status)


def test_the_reference_page_uses_first_party_files_only_under_our_csp(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    for script in html.split("<script")[1:]:
        tag = script.split(">", 1)[0]
        assert "src=" in tag or 'type="application/json"' in tag, "no inline script runs"
    for asset in (
        "/static/ninja/swagger-ui-bundle.js",
        "/static/ninja/swagger-ui-init.js",
        "/static/ninja/swagger-ui.css",
    ):
        assert client.get(asset).status_code == 200


def test_cors_is_closed_by_default(client: Client) -> None:
    response = client.options(
        "/api/v1/age-gate/",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response


def test_cors_allows_the_configured_origins(client: Client, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.org"]
    response = client.options(
        "/_allauth/app/v1/auth/login",
        headers={"Origin": "https://app.example.org", "Access-Control-Request-Method": "POST"},
    )
    assert response["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert "x-session-token" in response["Access-Control-Allow-Headers"]
