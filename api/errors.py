"""The API's one error body, ``{"errors": [{"code", "message", "param"}]}``, messages in the request's language.

Every refusal of our endpoints goes through here: pydantic's validation (wrong types, missing or unknown fields,
overlong values), a form's or a service's ``ValidationError``, 401/403/404/429. allauth's headless endpoints
answer in allauth's body, which has the same ``errors`` list (plus ``status``).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError


class ErrorItem(Schema):
    code: str
    message: str
    param: str | None = None


class ErrorOut(Schema):
    errors: list[ErrorItem]


# Every operation may answer these (documented on each, so the schema names every status it can return).
ERROR_STATUSES = (400, 401, 403, 404, 429)


def responses(ok: Any, *, status: int = 200, extra: dict[int, Any] | None = None) -> dict[int, Any]:
    result: dict[int, Any] = {status: ok}
    result.update({code: ErrorOut for code in ERROR_STATUSES})
    if extra:
        result.update(extra)
    return result


def error_responses(*, extra: dict[int, Any] | None = None) -> dict[int, Any]:
    """The error answers alone, for operations that answer a file (their 200 is in ``openapi_extra``)."""
    result: dict[int, Any] = {code: ErrorOut for code in ERROR_STATUSES}
    if extra:
        result.update(extra)
    return result


class ApiError(Exception):
    """Raised by a view: answered with ``status`` and these items."""

    def __init__(self, status: int, items: list[dict[str, Any]]) -> None:
        super().__init__(items)
        self.status = status
        self.items = items

    @classmethod
    def one(cls, status: int, code: str, message: str, param: str | None = None) -> ApiError:
        return cls(status, [{"code": code, "message": message, "param": param}])


def not_found() -> ApiError:
    return ApiError.one(404, "not_found", _("Not found."))


def from_validation_error(error: DjangoValidationError, *, param: str | None = None) -> ApiError:
    """A service's or form's ValidationError, each message with its code (and field, when it has one)."""
    items: list[dict[str, Any]] = []
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for item in errors:
                items.extend(_items(item, None if field == "__all__" else field))
    else:
        items.extend(_items(error, param))
    return ApiError(400, items or [{"code": "invalid", "message": _("This value is not valid."), "param": param}])


def _items(error: DjangoValidationError, param: str | None) -> list[dict[str, Any]]:
    return [
        {"code": str(item.code or "invalid"), "message": str(message), "param": param}
        for item in error.error_list
        for message in item
    ]


def from_form(form: Any, *, fields: dict[str, str] | None = None) -> ApiError:
    """A Django form's errors (the same validation as the page's form); ``fields`` renames form fields."""
    fields = fields or {}
    items = []
    for field, errors in form.errors.as_data().items():
        param = None if field == "__all__" else fields.get(field, field)
        for error in errors:
            items.extend(_items(error, param))
    return ApiError(400, items)


# pydantic's error types, as our translated messages
def _pydantic_message(error: dict[str, Any]) -> tuple[str, str]:
    kind = str(error.get("type", ""))
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required", _("This field is required.")
    if kind == "extra_forbidden":
        return "unknown_field", _("This field is not part of the request.")
    if kind in ("string_too_long", "too_long"):
        return "max_length", _("This value is too long.")
    if kind in ("string_too_short", "too_short"):
        return "min_length", _("This value is too short.")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "out_of_range", _("This number is out of range.")
    if kind in ("literal_error", "enum"):
        return "invalid_choice", _("This is not one of the allowed values.")
    if kind == "json_invalid":
        return "invalid_json", _("The body is not valid JSON.")
    if kind.endswith("_type") or kind.endswith("_parsing") or kind.endswith("_from_datetime_parsing"):
        return "wrong_type", _("This value has the wrong type.")
    if ctx.get("pattern") or kind == "string_pattern_mismatch":
        return "invalid", _("This value has the wrong format.")
    return "invalid", _("This value is not valid.")


_WHERE = {"body", "query", "path", "header", "cookie", "form", "file"}


def _param(loc: Any) -> str | None:
    parts = [str(part) for part in (loc or ())]
    while parts and parts[0] in _WHERE:
        parts = parts[1:]
    if parts and parts[0] in ("payload", "data", "filters"):
        parts = parts[1:]
    return ".".join(parts) or None


def install(api: NinjaAPI) -> None:
    def respond(request: HttpRequest, status: int, items: list[dict[str, Any]]) -> HttpResponse:
        return api.create_response(request, {"errors": items}, status=status)

    @api.exception_handler(ApiError)
    def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return respond(request, exc.status, exc.items)

    @api.exception_handler(NinjaValidationError)
    def validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        items = []
        for error in exc.errors:
            code, message = _pydantic_message(error)
            items.append({"code": code, "message": message, "param": _param(error.get("loc"))})
        return respond(request, 400, items)

    @api.exception_handler(DjangoValidationError)
    def django_validation(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        error = from_validation_error(exc)
        return respond(request, error.status, error.items)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        message = _("Sign in first: send the X-Session-Token header (app) or the session cookie (browser).")
        return respond(request, 401, [{"code": "not_authenticated", "message": message, "param": None}])

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        message = _("Too many requests. Please wait a little and try again.")
        return respond(request, 429, [{"code": "rate_limited", "message": message, "param": None}])

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        if exc.status_code == 403:
            code, message = "forbidden", _("The CSRF check failed or this is not allowed. Nothing was saved.")
        elif exc.status_code == 404:
            code, message = "not_found", _("Not found.")
        else:
            code, message = "bad_request", _("The request could not be understood.")
        return respond(request, exc.status_code, [{"code": code, "message": message, "param": None}])

    @api.exception_handler(Http404)
    def missing(request: HttpRequest, exc: Exception) -> HttpResponse:
        return respond(request, 404, not_found().items)

    api.exception_handler(ObjectDoesNotExist)(missing)

    @api.exception_handler(PermissionDenied)
    def denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        message = _("You may not do this.")
        return respond(request, 403, [{"code": "forbidden", "message": message, "param": None}])
