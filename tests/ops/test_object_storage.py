"""Several machines share files through object storage: the worker (this test process) builds a data export
into an S3-compatible bucket, a separate web process (gunicorn, its own empty MEDIA_ROOT: another machine's
disk) serves the owner's download from the bucket, and the expiry deletes the object.

S3 is an outside provider: the bucket is a real S3-compatible HTTP server of its own (moto's server, a separate
process on a free port), reached through django-storages and boto3 exactly as production reaches S3 or MinIO.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import DataExport
from mindomo import files
from tests.accounts.factories import UserFactory
from tests.ops.servers import Gunicorn, http_get
from tests.support.smtp import free_port

BUCKET = "mindomo-test-files"
KEYS = {"STORAGE_ACCESS_KEY": "test-access-key", "STORAGE_SECRET_KEY": "test-secret-key"}


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the S3 server did not start: {log.read_text()}") from None
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        ready = subprocess.run(  # what compose's web container runs before gunicorn: creates the bucket
            [sys.executable, "manage.py", "storage_ready"],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "mindomo.settings.test", **_storage_env(endpoint)},
            capture_output=True,
            text=True,
        )
        assert ready.stdout.strip() == f"object storage: bucket {BUCKET} created", ready.stderr
        assert _client(endpoint).head_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEYS["STORAGE_ACCESS_KEY"],
        aws_secret_access_key=KEYS["STORAGE_SECRET_KEY"],
        region_name="us-east-1",
    )


def _objects(endpoint: str) -> list[str]:
    return [o["Key"] for o in _client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def _storage_env(endpoint: str) -> dict[str, str]:
    return {"STORAGE_BUCKET": BUCKET, "STORAGE_URL": endpoint, "STORAGE_REGION": "us-east-1", **KEYS}


def test_the_settings_choose_object_storage_when_a_bucket_is_set(s3_endpoint: str) -> None:
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "d = settings.STORAGES['default']; "
        "print(d['BACKEND'], d['OPTIONS']['bucket_name'], d['OPTIONS']['endpoint_url'])"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mindomo.settings.base", "DJANGO_SECRET_KEY": "x" * 50}
    with_bucket = subprocess.run(
        [sys.executable, "-c", probe], env={**env, **_storage_env(s3_endpoint)}, capture_output=True, text=True
    )
    assert with_bucket.stdout.split() == ["storages.backends.s3.S3Storage", BUCKET, s3_endpoint], with_bucket.stderr
    local = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.STORAGES['default']['BACKEND'])",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert local.stdout.strip() == "django.core.files.storage.FileSystemStorage", local.stderr


@pytest.mark.django_db(transaction=True)
def test_the_worker_stores_an_export_in_the_bucket_and_another_machines_web_process_serves_it(
    s3_endpoint: str, tmp_path: Path, settings: Any
) -> None:
    worker_disk, web_disk = tmp_path / "worker-disk", tmp_path / "web-disk"
    worker_disk.mkdir()
    web_disk.mkdir()
    settings.MEDIA_ROOT = worker_disk
    settings.STORAGES = {
        **django_settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": s3_endpoint,
                "access_key": KEYS["STORAGE_ACCESS_KEY"],
                "secret_key": KEYS["STORAGE_SECRET_KEY"],
                "region_name": "us-east-1",
                "addressing_style": "path",
                "file_overwrite": False,
            },
        },
    }
    owner, stranger = UserFactory(), UserFactory()

    export = services.data_export_request(user=owner)
    built = services.data_export_build(export_id=export.pk)  # what the worker's task runs

    assert built is not None
    assert built.state == DataExport.State.READY
    name = services.data_export_name(built)
    assert _objects(s3_endpoint) == [name]
    assert list(worker_disk.iterdir()) == []  # nothing on the worker's own disk
    stored = _client(s3_endpoint).get_object(Bucket=BUCKET, Key=name)["Body"].read()
    assert stored[:2] == b"PK"
    assert len(stored) == built.file_size

    owner_browser, stranger_browser = Client(), Client()
    owner_browser.force_login(owner)
    stranger_browser.force_login(stranger)
    url = reverse("accounts:data_export_download", args=[built.public_id])
    web = Gunicorn(tmp_path, env={**_storage_env(s3_endpoint), "MEDIA_ROOT": str(web_disk)}).start()
    try:
        cookie = f"sessionid={owner_browser.cookies['sessionid'].value}"
        status, headers, body = http_get(web.url + url, headers={"Cookie": cookie})
        assert status == 200, web.logs()[-2000:]
        assert body == stored
        assert headers["Content-Type"] == "application/zip"
        other = f"sessionid={stranger_browser.cookies['sessionid'].value}"
        assert http_get(web.url + url, headers={"Cookie": other})[0] == 404  # someone else's export: none

        assert services.data_exports_expire(now=built.expires_at + timedelta(seconds=1)) == 1
        assert _objects(s3_endpoint) == []
        assert not files.exists(name)
        assert http_get(web.url + url, headers={"Cookie": cookie})[0] == 410
    finally:
        web.stop()
    assert list(web_disk.iterdir()) == []
