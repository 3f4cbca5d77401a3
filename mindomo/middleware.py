"""One guard for the text of every request, before any view, form or query sees it.

The path, the query string, the names and values of a posted form and the cookies must be valid UTF-8
without control characters (NUL above all: PostgreSQL cannot store it, and a lookup with it fails). A
request that breaks this gets our 400 page, whatever view it was meant for, instead of a server error
somewhere deep in a view: the class of the bug is closed here, not in each form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from importlib import import_module
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import BadRequest
from django.core.handlers.exception import get_exception_response
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.http.cookie import parse_cookie
from django.urls import get_resolver, get_urlconf
from django.utils import translation
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext

# Names, the path and cookies: no control character at all (C0, DEL, C1), no lone surrogate.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Values typed into a form may hold tabs and line breaks (a textarea), nothing else of the kind.
_CONTROL_IN_VALUE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A cookie name we can expire in the response (an RFC 6265 token).
_COOKIE_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Django re-percent-encodes the bytes of a path that are not UTF-8 ("%FF"); a decoded path never holds such an
# escape otherwise (a client would have to send "%25FF").
_BROKEN_IN_PATH = re.compile("%[89a-fA-F][0-9a-fA-F]")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _text(value: str) -> str | None:
    """A WSGI environ string (the raw bytes read as Latin-1) as UTF-8 text; None when it is not UTF-8."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value  # already decoded text (ASGI)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _clean_name(name: str | None) -> bool:
    return name is not None and not _CONTROL.search(name)


def _clean_value(value: str | None) -> bool:
    return value is not None and not _CONTROL_IN_VALUE.search(value)


def _urlencoded_clean(raw: bytes) -> bool:
    """Every name and value of an ``a=1&b=2`` string percent-decodes to UTF-8 without control characters
    (what Django's QueryDict would otherwise decode with replacement characters)."""
    for pair in raw.split(b"&"):
        if not pair:
            continue
        name, _sep, value = pair.partition(b"=")
        try:
            name_text = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
            value_text = unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return False
        if not (_clean_name(name_text) and _clean_value(value_text)):
            return False
    return True


def _pairs_clean(pairs: Iterable[tuple[str, list[str]]]) -> bool:
    return all(_clean_name(name) and all(_clean_value(v) for v in values) for name, values in pairs)


def _json_clean(value: object) -> bool:
    """Every key and string of a parsed JSON document is clean (keys as names, strings as form values)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _clean_value(item):
                return False
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if not all(_clean_name(key) for key in item):
                return False
            stack.extend(item.values())
    return True


def _json_body_problem(raw: bytes) -> str | None:
    """A JSON body must be UTF-8 without control characters in its strings; a body that is not JSON at all is
    left to the view (the API answers it with its own 400)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid characters in the JSON body"
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return None if _json_clean(document) else "invalid characters in the JSON body"


def _bad_cookies(header: str) -> list[str]:
    """Names of the cookies whose name or value is not clean text."""
    return [
        name
        for name, value in parse_cookie(header).items()
        if not (_clean_name(_text(name)) and _clean_name(_text(value)))
    ]


def request_problem(request: HttpRequest) -> str | None:
    """Why this request's text cannot be accepted, or None when it is clean."""
    meta = request.META
    if _CONTROL.search(request.path_info) or _BROKEN_IN_PATH.search(request.path_info):
        return "invalid characters in the path"
    query = _text(str(meta.get("QUERY_STRING", "")))
    if query is None or not _urlencoded_clean(query.encode("utf-8")):
        return "invalid characters in the query string"
    if _bad_cookies(str(meta.get("HTTP_COOKIE", ""))):
        return "invalid characters in a cookie"
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.content_type in _FORM_TYPES:
        if request.content_type == "application/x-www-form-urlencoded":
            if not _urlencoded_clean(request.body):
                return "invalid characters in the form"
        else:
            # multipart: Django decodes names and values (with replacement characters); check what it made,
            # and the names of uploaded files. The files' contents are the business of the view reading them.
            files = [(name, [f.name or "" for f in uploads]) for name, uploads in request.FILES.lists()]
            if not (_pairs_clean(request.POST.lists()) and _pairs_clean(files)):
                return "invalid characters in the form"
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.content_type == "application/json":
        return _json_body_problem(request.body)
    return None


def api_error_response(*, status: int, code: str, message: str, param: str | None = None) -> JsonResponse:
    """The API's error body: ``{"errors": [{"code", "message", "param"}]}`` (README, "API")."""
    return JsonResponse({"errors": [{"code": code, "message": message, "param": param}]}, status=status)


def _scrub(request: HttpRequest) -> None:
    """What the 400 page may read of a refused request: nothing it sent. This middleware runs before the session
    and authentication middlewares, so the page renders for an anonymous visitor with an empty, unsaved session."""
    request.GET = QueryDict()
    request._post = QueryDict()  # type: ignore[attr-defined]
    request._files = MultiValueDict()  # type: ignore[attr-defined]
    request.COOKIES = {}
    request.session = import_module(settings.SESSION_ENGINE).SessionStore()
    request.user = AnonymousUser()


class RejectInvalidTextMiddleware:
    """Answer 400 (our page, in the visitor's language) to a request carrying invalid text; expire a bad cookie
    so that the browser's next request goes through."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = request_problem(request)
        if problem is None:
            return self.get_response(request)
        language = translation.get_language_from_request(request)
        bad_cookies = _bad_cookies(str(request.META.get("HTTP_COOKIE", "")))
        _scrub(request)
        with translation.override(language):
            if request.path_info.startswith(tuple(settings.API_PATH_PREFIXES)):
                response: HttpResponse = api_error_response(
                    status=400,
                    code="invalid_text",
                    message=gettext(
                        "The request holds characters that cannot be accepted (control characters or text that "
                        "is not UTF-8). Nothing was saved."
                    ),
                )
                response.headers["Content-Language"] = language
            else:
                response = get_exception_response(request, get_resolver(get_urlconf()), 400, BadRequest(problem))
        for name in bad_cookies:
            if _COOKIE_TOKEN.fullmatch(name):
                response.delete_cookie(name)
        return response
