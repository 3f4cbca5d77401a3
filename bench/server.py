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
from collections.abc import Iterator
from contextlib import contextmanager

from bench.harness import ROOT


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
