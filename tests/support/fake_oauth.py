"""A local stand-in for Microsoft's identity platform and Graph API, served over real HTTP.

allauth's real Microsoft provider talks to it (the app's ``login_url`` and ``graph_url`` settings point
here), so the whole OAuth2 flow runs: authorize redirect, code exchange, profile fetch.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit


class FakeMicrosoft:
    def __init__(self) -> None:
        self.profile: dict[str, Any] = {}
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
