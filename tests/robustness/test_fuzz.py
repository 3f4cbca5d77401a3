"""A fuzzer over every URL pattern and every form of the project: whatever a visitor sends, never a 5xx.

For each role (anonymous, adult, child, parent in the portal, school administrator, teacher, school student,
superuser and each staff role):

- every URL pattern with a parameter gets hostile values in place of each parameter (NUL bytes, invalid UTF-8,
  lone surrogates, overlong strings, negative, huge and non-numeric ids, malformed UUIDs, path tricks), a fixed
  list first, then a bounded number of Hypothesis examples (derandomized, so every run is the same run);
- every page the role can open (parameters filled with real rows) is fetched with hostile query strings, and every
  form on it is posted empty, with each field missing, duplicated, overlong, with NUL bytes, invalid UTF-8, wrong
  types and malformed ids, then with Hypothesis's mixtures of those.

The whole run stays well under a minute: it is part of the suite.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote_from_bytes, unquote, urljoin, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mindomo.middleware import request_problem
from tests.robustness.world import ROLES, World, build_world

# --- hostile values ---------------------------------------------------------------------------------------------
TEXTS: list[bytes] = [
    b"",
    b"\x00",
    b"1\x00",
    b"a\x00b",
    b"\xff\xfe",
    b"\xc0\xaf",
    b"\xed\xa0\x80",  # a UTF-8-encoded lone surrogate
    b"\x1b[31m\x07",
    b"\x7f\xc2\x85",  # DEL and a C1 control
    b"x" * 5000,
    "ü".encode() * 3000,
    b"-1",
    b"0",
    b"99999999999999999999999",
    b"1.5",
    b"1e400",
    b"abc",
    b"null",
    b"on",
    b"2026-02-30",
    b"zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
    b"00000000-0000-0000-0000-000000000000",
    b"../../etc/passwd",
    b"'\"<script>",
    b"\xf0\x9f\x98\x80",
]
# In a URL path, a value is percent-encoded; these few are also worth sending as they are.
RAW_SEGMENTS = ["%2e%2e", "a%2Fb", "%25", "..", " "]
QUERY_NAMES = [b"next", b"q", b"page", b"o", b"p", b"e", b"all", b"process", b"code", b"state", b"error", b"_popup"]


def _pct(raw: bytes) -> str:
    return quote_from_bytes(raw, safe="")


# The fixed values every parameter gets (Hypothesis draws from all of TEXTS and beyond).
SEGMENTS = [_pct(t) for t in (b"a\x00b", b"\xed\xa0\x80", b"x" * 5000, b"9" * 23, b"abc")] + ["a%2Fb"]
text_bytes = st.one_of(
    st.sampled_from(TEXTS),
    st.binary(max_size=64),
    st.text(max_size=64).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.integers(min_value=-(2**80), max_value=2**80).map(lambda n: str(n).encode()),
)
segments = st.one_of(st.sampled_from(SEGMENTS), text_bytes.filter(bool).map(_pct))
queries = st.lists(st.tuples(st.one_of(st.sampled_from(QUERY_NAMES), text_bytes), text_bytes), max_size=4).map(
    lambda pairs: "&".join(f"{_pct(n)}={_pct(v)}" for n, v in pairs)
)


# --- the project's URL patterns ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    template: str  # "/grading/classes/{class_id}/"
    params: tuple[str, ...]

    def fill(self, values: dict[str, str]) -> str:
        path = self.template
        for name in self.params:
            path = path.replace("{" + name + "}", values[name])
        return path


_ROUTE_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")
_REGEX_PARAM = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for entry in patterns:
        text = str(entry.pattern)
        if isinstance(entry.pattern.regex, re.Pattern) and text.startswith("^"):
            text = text.lstrip("^").rstrip("$")
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + text)
        elif isinstance(entry, URLPattern):
            yield prefix + text


def all_patterns() -> list[Pattern]:
    found: dict[str, Pattern] = {}
    for text in _walk(get_resolver().url_patterns):
        params = tuple(_ROUTE_PARAM.findall(text) + _REGEX_PARAM.findall(text))
        template = _REGEX_PARAM.sub(lambda m: "{" + m.group(1) + "}", _ROUTE_PARAM.sub(r"{\1}", text))
        template = template.replace("\\", "")
        found.setdefault(template, Pattern(template="/" + template, params=params))
    return list(found.values())


PATTERNS = None


def patterns() -> list[Pattern]:
    global PATTERNS
    if PATTERNS is None:
        PATTERNS = all_patterns()
    return PATTERNS


def _admin(pattern: Pattern) -> bool:
    return pattern.template.startswith("/admin/")


# --- forms on a page -------------------------------------------------------------------------------------------------
@dataclass
class Form:
    action: str
    method: str
    multipart: bool
    fields: dict[str, str] = field(default_factory=dict)  # name -> a value the page offered
    files: list[str] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self._current: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(
                action=urljoin(self.page, a.get("action") or self.page),
                method=(a.get("method") or "get").lower(),
                multipart="multipart" in a.get("enctype", ""),
            )
            self.forms.append(self._current)
        elif self._current is None or not a.get("name"):
            return
        elif tag == "input" and a.get("type") == "file":
            self._current.files.append(a["name"])
        elif tag in ("input", "button", "textarea"):
            if a.get("type") in ("checkbox", "radio") and a["name"] in self._current.fields:
                return
            self._current.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a["name"]
            self._current.fields.setdefault(a["name"], "")
        elif tag == "option" and self._select and not self._current.fields.get(self._select):
            self._current.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def forms_on(page: str, html: str) -> list[Form]:
    parser = _FormParser(page)
    parser.feed(html)
    local = [f for f in parser.forms if urlsplit(f.action).netloc in ("", "testserver")]
    for form in local:
        form.action = urlsplit(form.action).path or page
    return local


# --- sending -------------------------------------------------------------------------------------------------------
class Fuzzer:
    def __init__(self, world: World, role: str) -> None:
        self.world = world
        self.role = role
        self.client = world.client(role)
        self.failures: list[str] = []
        self.requests = 0

    def check(self, response: Any, what: str) -> None:
        self.requests += 1
        if response.status_code >= 500:
            self.failures.append(f"{self.role}: {what} -> {response.status_code}")

    def worth_sending(self, path: str) -> bool:
        """A path no pattern matches gets the resolver's 404 whoever asks, and text the middleware refuses gets
        its 400 whoever asks: those are sent as two roles only, the rest as every role."""
        if self.role in ("anonymous", "member"):
            return True
        try:
            resolve(unquote(path))
        except Resolver404:
            return False
        return request_problem(RequestFactory().get(path)) is None

    def get(self, path: str, query: str = "") -> Any:
        response = self.client.get(path + (f"?{query}" if query else ""))
        self.check(response, f"GET {path}?{query[:200]}")
        return response

    def post(self, form: Form, pairs: list[tuple[bytes, bytes]]) -> None:
        if form.method == "get":
            query = "&".join(f"{_pct(n)}={_pct(v)}" for n, v in pairs)
            self.get(form.action, query)
            return
        if form.multipart:
            data: dict[str, Any] = {}
            for name, value in pairs:
                data.setdefault(name.decode("utf-8", "replace"), []).append(value.decode("utf-8", "surrogateescape"))
            for file_field in form.files:
                content = pairs[0][1] if pairs else b""
                data[file_field] = SimpleUploadedFile("x\x00.csv" if b"\x00" in content else "x.csv", content)
            try:
                response = self.client.post(form.action, data)
            except UnicodeEncodeError:  # the test client cannot encode a lone surrogate in multipart: not sendable
                return
        else:
            body = "&".join(f"{_pct(n)}={_pct(v)}" for n, v in pairs)
            response = self.client.generic(
                "POST", form.action, body.encode(), content_type="application/x-www-form-urlencoded"
            )
        self.check(response, f"POST {form.action} {[(n[:40], v[:40]) for n, v in pairs][:8]}")

    def relogin(self) -> None:
        self.world.sign_in(self.client, self.role)


def form_mutations(form: Form, *, short: bool = False) -> Iterator[list[tuple[bytes, bytes]]]:
    valid = [(n.encode(), v.encode()) for n, v in form.fields.items()]
    yield [(n, b"a\x00b") for n, _v in valid]  # NUL bytes
    yield [(n, v + b"\xff\xfe") for n, v in valid]  # invalid UTF-8
    yield [(n, b"x" * 5000) for n, _v in valid]  # overlong
    if short:
        return
    yield [(n, b"-1" if i % 2 else b"99999999999999999999999") for i, (n, _v) in enumerate(valid)]  # wrong types
    yield valid[1:]  # a field missing
    yield valid + [(n, b"abc") for n, _v in valid] + [(b"\x00", b"x"), (b"x" * 300, b"x")]  # twice; bad names


def pages_of(world: World, role: str) -> list[str]:
    """Every pattern's path with real rows in its parameters (the pages a role may be able to open).

    The admin's pages and forms are fuzzed as the superuser, who sees all of them; the other staff roles see
    subsets of the same ModelAdmin views.
    """
    found = []
    for pattern in patterns():
        if _admin(pattern) and role != "superuser" and pattern.template != "/admin/login/":
            continue
        if any(name not in world.params or not world.params[name] for name in pattern.params):
            continue
        if _admin(pattern) and pattern.params:
            continue  # the admin's object pages: the same ModelAdmin views as the lists and add forms
        found.append(pattern.fill({name: world.params[name][0] for name in pattern.params}))
    return found


FUZZ = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def _skip_page(path: str) -> bool:
    # Signing out ends the role's session (re-signed in before each form, but not mid-list).
    return path.rstrip("/").endswith(("logout", "sign-out"))


@pytest.fixture(autouse=True)
def _fast_hasher(settings: Any) -> None:
    """Failed sign-ins hash a dummy password: Argon2's cost is not what this test is about."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_no_server_error_from_any_input(role: str) -> None:
    world = build_world()
    fuzzer = Fuzzer(world, role)
    fuzz_url_parameters(fuzzer, world)
    fuzz_forms_and_queries(fuzzer, world)
    assert not fuzzer.failures, "\n".join(fuzzer.failures[:30])


def fuzz_url_parameters(fuzzer: Fuzzer, world: World) -> None:
    with_params = [p for p in patterns() if p.params]
    assert len(with_params) > 30  # every app's patterns are found (admin and allauth included)
    before = fuzzer.requests
    for pattern in with_params:
        if _admin(pattern) and fuzzer.role != "superuser":
            continue  # the admin checks permissions before it reads the object id; the superuser gets that far
        values = SEGMENTS if not _admin(pattern) else [_pct(b"a\x00b"), "9" * 25]
        for index, value in enumerate(values):
            # every parameter hostile, then only one (the others real rows, so the view itself runs)
            paths = [pattern.fill(dict.fromkeys(pattern.params, value))]
            if len(pattern.params) > 1:
                real = {name: (world.params.get(name) or [value])[0] for name in pattern.params}
                name = pattern.params[index % len(pattern.params)]
                paths.append(pattern.fill({**real, name: value}))
            for path in paths:
                if fuzzer.worth_sending(path):
                    fuzzer.get(path)

    @FUZZ
    @given(st.sampled_from(with_params), segments, queries)
    def fuzz(pattern: Pattern, value: str, query: str) -> None:
        fuzzer.get(pattern.fill(dict.fromkeys(pattern.params, value)), query)

    fuzz()
    assert fuzzer.requests - before > (200 if fuzzer.role in ("anonymous", "member") else 40)


def fuzz_forms_and_queries(fuzzer: Fuzzer, world: World) -> None:
    before = fuzzer.requests
    forms: dict[tuple[str, str], Form] = {}
    for path in pages_of(world, fuzzer.role):
        response = fuzzer.get(path, "next=abc&q=%E2%80%AE&page=abc&o=-1&p=99999999999999999999&all=&x=" + "x" * 3000)
        if response.status_code != 200:
            response = fuzzer.get(path)
        if response.status_code == 200 and "html" in response.get("Content-Type", ""):
            for form in forms_on(path, response.content.decode()):
                forms.setdefault((form.action, ",".join(sorted(form.fields))), form)
    posted = [f for f in forms.values() if not _skip_page(f.action)]
    assert posted  # every role has a form to post (sign-in, sign-up, the contact form...)
    for form in posted:
        fuzzer.relogin()
        for pairs in form_mutations(form, short=form.action.startswith("/admin/")):
            fuzzer.post(form, pairs)

    @FUZZ
    @given(st.sampled_from(posted), st.data())
    def fuzz(form: Form, data: Any) -> None:
        names = [n.encode() for n in form.fields] or [b"x"]
        pairs = data.draw(st.lists(st.tuples(st.sampled_from(names), text_bytes), max_size=2 * len(names)))
        fuzzer.post(form, pairs)

    fuzz()
    assert fuzzer.requests - before > 50
