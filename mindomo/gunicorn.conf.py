"""gunicorn's configuration, used by the Dockerfile and docker-compose.yml: ``gunicorn -c mindomo/gunicorn.conf.py``.

Logs go to stdout/stderr (the container's log) through ``mindomo.gunicorn_logging.RedactingLogger``, which
redacts the secret of every emailed link (the parent's consent key, the portal sign-in token, ...) from the
request line, the query string, the ``Referer`` and the error log. Every value can be overridden by the
environment variable named beside it.
"""

import os

wsgi_app = "mindomo.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
# Recycle workers now and then (a slow leak in a library never grows without bound).
max_requests = 2000
max_requests_jitter = 200

logger_class = "mindomo.gunicorn_logging.RedactingLogger"
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn's default format, plus the time taken in microseconds; %(r)s and %(f)s are redacted by the logger.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(D)s'
