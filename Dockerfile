# One image for web, worker and beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=mindomo.settings.base
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
# the translation catalogues are compiled here (they are never committed)
RUN python scripts/messages.py compile
RUN DJANGO_SECRET_KEY=collectstatic DATABASE_URL=postgres://x@localhost/x REDIS_URL=redis://localhost \
    python manage.py collectstatic --noinput
RUN useradd --system --uid 10001 mindomo && chown -R mindomo /app
USER mindomo
EXPOSE 8000
# mindomo/gunicorn.conf.py: bind 0.0.0.0:$PORT (8000), WEB_CONCURRENCY workers (3), access log on stdout with the
# secret of emailed links (consent key, portal token) redacted.
CMD ["gunicorn", "-c", "mindomo/gunicorn.conf.py"]
