"""The shipped Dockerfile and docker-compose.yml: gunicorn through its redacting configuration, Redis without
persistence, every service restarted unless stopped; compose stays valid for docker-compose v1."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_compose_service_restarts_unless_stopped() -> None:
    services = _compose()["services"]
    assert {"web", "worker", "beat", "postgres", "redis"} <= set(services)
    assert {name: service.get("restart") for name, service in services.items()} == dict.fromkeys(
        services, "unless-stopped"
    )


def test_compose_redis_keeps_nothing_on_disk() -> None:
    redis = _compose()["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--save") + 1] == ""
    assert command[command.index("--appendonly") + 1] == "no"
    assert not redis.get("volumes")


def test_the_web_container_runs_gunicorn_with_the_redacting_configuration() -> None:
    web = _compose()["services"]["web"]["command"]
    assert "gunicorn -c mindomo/gunicorn.conf.py" in web
    assert "--access-logfile" not in web
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["gunicorn", "-c", "mindomo/gunicorn.conf.py"]' in dockerfile
    assert "--access-logfile" not in dockerfile
    conf = (ROOT / "mindomo" / "gunicorn.conf.py").read_text()
    assert 'logger_class = "mindomo.gunicorn_logging.RedactingLogger"' in conf


def test_compose_file_is_valid_for_docker_compose_v1() -> None:
    executable = shutil.which("docker-compose")
    assert executable, "docker-compose is missing: apt-get install --no-install-recommends docker-compose"
    result = subprocess.run([executable, "config", "-q"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
