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
    assert {"web", "worker-mail", "worker-bulk", "beat", "postgres", "redis", "minio"} <= set(services)
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


def test_web_and_workers_share_the_object_storage_and_each_queue_has_its_own_worker() -> None:
    from mindomo.celery import app

    services = _compose()["services"]
    for name in ("web", "worker-mail", "worker-bulk", "beat"):
        environment = services[name]["environment"]
        assert environment["STORAGE_BUCKET"] == "mindomo", name
        assert environment["STORAGE_URL"] == "http://minio:9000", name
        assert "minio" in services[name]["depends_on"], name
    assert "storage_ready" in services["web"]["command"]
    queues = {name: services[name]["command"].split("-Q ")[1].split()[0] for name in ("worker-mail", "worker-bulk")}
    assert queues == {"worker-mail": "mail", "worker-bulk": "bulk"}
    assert set(queues.values()) == {q.name for q in app.conf.task_queues}
    assert "minio-data" in _compose()["volumes"]
