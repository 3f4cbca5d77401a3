"""Test settings: the real PostgreSQL and Redis (DATABASE_URL / REDIS_URL), Celery eager by default.

Tests about Celery itself start one real worker per session (tests/conftest.py).
"""

import os
import uuid

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)

from .base import *  # noqa: F403
from .base import CACHES, STORAGES

DEBUG = False
ALLOWED_HOSTS = ["*"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The default storage stays base's: local files under MEDIA_ROOT, or the bucket when STORAGE_BUCKET is set (a web
# process started by tests/ops/test_object_storage.py).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Each test session gets its own cache namespace; tests/conftest.py empties it between tests.
CACHES["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex[:12]}"
CACHES["sessions"]["KEY_PREFIX"] = CACHES["default"]["KEY_PREFIX"]
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
# Static files come from the finders in tests (no collectstatic), so whitenoise has no folder to scan.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
