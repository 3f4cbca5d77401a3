"""A local stand-in for Microsoft's identity platform and Graph API, served over real HTTP.

allauth's real Microsoft provider talks to it (the app's ``login_url`` and ``graph_url`` settings point
here), so the whole OAuth2 flow runs: authorize redirect, code exchange, profile fetch.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


def unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT as a provider returns it over TLS (the relying party may skip the signature; tests do not sign)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


class FakeMicrosoft:
    def __init__(self) -> None:
        self.profile: dict[str, Any] = {}
        self.tenant = ""  # when set, access tokens are JWTs carrying this tenant id ("tid"), as Microsoft's are
        self.codes: dict[str, str] = {}
        self.tokens: set[str] = set()
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append(f"GET {url.path}")
                if url.path.endswith("/oauth2/v2.0/authorize"):
                    code = secrets.token_urlsafe(16)
                    fake.codes[code] = query["redirect_uri"]
                    target = f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                elif url.path == "/v1.0/me":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in fake.tokens:
                        self._json(401, {"error": {"message": "invalid token"}})
                    else:
                        self._json(200, fake.profile)
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake.requests.append(f"POST {url.path}")
                if url.path.endswith("/oauth2/v2.0/token") and form.get("code") in fake.codes:
                    fake.codes.pop(form["code"])
                    token = secrets.token_urlsafe(16)
                    if fake.tenant:
                        token = unsigned_jwt({"tid": fake.tenant, "jti": token})
                    fake.tokens.add(token)
                    self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
                else:
                    self._json(400, {"error": "invalid_grant"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def app_settings(self) -> dict[str, Any]:
        return {
            "client_id": "mindomo-test-client",
            "secret": "mindomo-test-secret",
            "settings": {"tenant": "common", "login_url": self.url, "graph_url": self.url},
        }


class FakeGoogle:
    """Google's OAuth 2.0 / OpenID Connect endpoints (authorize, token with an id token), served locally.

    ``claims`` is what the id token says (``hd`` for a Workspace account); ``authorize_queries`` keeps what the
    authorize redirect asked (the ``hd`` hint)."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.claims: dict[str, Any] = {}
        self.codes: dict[str, str] = {}
        self.authorize_queries: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.authorize_queries.append(query)
                code = secrets.token_urlsafe(16)
                fake.codes[code] = query["redirect_uri"]
                self.send_response(302)
                self.send_header(
                    "Location", f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
                )
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if form.get("code") not in fake.codes:
                    body = json.dumps({"error": "invalid_grant"}).encode()
                    self.send_response(400)
                else:
                    fake.codes.pop(form["code"])
                    now = int(time.time())
                    claims = {
                        "iss": "https://accounts.google.com",
                        "aud": fake.client_id,
                        "iat": now,
                        "exp": now + 3600,
                        "jti": secrets.token_urlsafe(8),
                        **fake.claims,
                    }
                    token = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 3600}
                    body = json.dumps({**token, "id_token": unsigned_jwt(claims)}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
