"""A gunicorn serving the project for the HTTP benchmarks, and a plain sequential HTTP client.

The server runs the production settings (DEBUG off) against the benchmark's database, with one sync
worker, so a page and its baseline (Django's admin login page) are served by the same process, one
request at a time: the ratio of their times is the ratio of their requests per second.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import ROOT

_servers: list[subprocess.Popen[bytes]] = []


def worker_cpu_seconds() -> float:
    """The CPU time (user + system) the running gunicorn's worker processes have used so far (Linux /proc): a job
    with ``clock=worker_cpu_seconds`` measures what its requests cost the server, not the wall time."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for server in _servers:
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        for pid in children:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(settings_module: str = "mindomo.settings.base") -> Iterator[int]:
    """Start gunicorn on a free port; yields the port; stops the process it started."""
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "mindomo.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    _servers.append(process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit("gunicorn did not start")
                time.sleep(0.1)
        get(port, "/accounts/login/", count=3)  # warm up: imports, templates, the database connection
        yield port
    finally:
        _servers.remove(process)
        process.terminate()
        process.wait(timeout=30)


def get(port: int, path: str, *, count: int, cookie: str = "") -> int:
    """GET ``path`` ``count`` times, one after the other; every answer must be 200. Returns the bytes read."""
    total = 0
    headers = {"Host": "127.0.0.1", **({"Cookie": cookie} if cookie else {})}
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        assert response.status == 200, (path, response.status, body[:300])
        total += len(body)
    return total


def post(port: int, path: str, *, cookie: str, csrf_token: str, data: dict[str, str] | None = None) -> str:
    """POST a form to ``path`` as a signed-in browser (``cookie`` holds the session; ``csrf_token`` is the csrftoken
    cookie's value, sent in the header too); the answer must be a redirect. Returns where it leads."""
    body = urllib.parse.urlencode(data or {})
    headers = {
        "Host": "127.0.0.1",
        "Cookie": f"{cookie}; csrftoken={csrf_token}",
        "X-CSRFToken": csrf_token,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body=body, headers=headers)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    assert response.status == 302, (path, response.status, content[:300])
    return response.getheader("Location") or ""
