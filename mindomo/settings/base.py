"""Settings for every environment, read from the process environment.

Every variable read here is listed, with a comment, in ``.env.example``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local .env (git-ignored) is read when present; real environments set variables directly.
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",  # allauth.mfa's security key list
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.facebook",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.yahoo",
    "allauth.headless",  # the JSON API's authentication (browser and app clients), /_allauth/
    "corsheaders",
    "ninja",  # the JSON API's own endpoints (/api/v1/), its schema and its reference page's static files
    "mindomo.outbox",
    "mindomo.downloads",
    "accounts",
    "schools",
    "consent",
    "billing",
    "grading",
    "privacy",
    "analytics",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy / Permissions-Policy on every response, right after SecurityMiddleware
    "analytics.middleware.SecurityHeadersMiddleware",
    # Invalid text (NUL, control characters, invalid UTF-8) in the path, query, form or cookies: 400, before
    # anything reads it.
    "mindomo.middleware.RejectInvalidTextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # CORS for the API only (CORS_URLS_REGEX); no origin is allowed unless CORS_ALLOWED_ORIGINS names it
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    # times in the reader's time zone (the browser's, reported by static/js/site.js), the zone named
    "mindomo.timezones.TimeZoneMiddleware",
    # a child's or school account never reaches the email, connected-services or two-factor pages
    "accounts.middleware.AdultPagesMiddleware",
    "privacy.middleware.PolicyAcceptanceMiddleware",
    "consent.middleware.AgeUpMiddleware",
    # a second factor for every staff account, idle staff sessions end (privacy/staff_security.py)
    "privacy.staff_security.StaffSecurityMiddleware",
]

ROOT_URLCONF = "mindomo.urls"
WSGI_APPLICATION = "mindomo.wsgi.application"
ASGI_APPLICATION = "mindomo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # whether base.html shows the cookie banner / loads analytics
                "analytics.context_processors.cookie_audience",
                # the main menu per role (mindomo/navigation.py)
                "mindomo.navigation.main_menu",
            ],
            # money, percent and when filters in every template (mindomo/formats.py); {% form_fields form %}
            "builtins": ["mindomo.templatetags.mindomo_i18n", "mindomo.templatetags.mindomo_forms"],
        },
    },
]

# --- Database: PostgreSQL through psycopg 3 with Django's native pool ---
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["pool"] = {
    "min_size": env.int("DATABASE_POOL_MIN", default=2),
    "max_size": env.int("DATABASE_POOL_MAX", default=10),
}
# Each connection taken from the pool is checked first (one empty round trip): after a PostgreSQL restart the
# pool's dead connections are replaced instead of failing the next requests (README, "Operations").
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and the shared cache (allauth's rate limits live there) ---
REDIS_URL = env("REDIS_URL")
CACHES = {
    "default": {
        # Django's RedisCache that answers from process memory while Redis is down (mindomo/cache.py)
        "BACKEND": "mindomo.cache.ResilientRedisCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="mindomo"),
    },
    # the sessions (accounts.sessions: cached_db), shared by every web process; never a per-process copy
    "sessions": {
        "BACKEND": "mindomo.cache.SessionCache",
        "LOCATION": env("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="mindomo"),
    },
}

# --- Authentication ---
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "accounts:profile"
SITE_ID = 1

# django-allauth (customised through accounts/adapters.py and accounts/forms.py)
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupDetailsForm"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
# Cached database sessions (the shared cache in front of the database rows, Django's cached_db) stored with their
# user's id: suspending, deleting or re-keying an account ends every session
# of it by that id (accounts.services.user_sessions_end).
SESSION_ENGINE = "accounts.sessions"
SESSION_CACHE_ALIAS = "sessions"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Mindomo] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="https")
ACCOUNT_RATE_LIMITS = {
    # allauth's defaults, stated here so they are visible and reviewed
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reset_password": "20/m/ip,5/m/key",
    "reauthenticate": "10/m/user",
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "confirm_email": "1/3m/key",
}
SOCIALACCOUNT_AUTO_SIGNUP = False  # the sign-up form (and later the age gate) runs for social sign-ups
SOCIALACCOUNT_STORE_TOKENS = False  # we never keep a provider's access tokens
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_QUERY_EMAIL = True
SOCIALACCOUNT_LOGIN_ON_GET = False

# --- The JSON API (README, "API") ---
# allauth's headless API at /_allauth/{browser,app}/v1/: "browser" for a single-page app on our domain (session
# cookie and CSRF), "app" for mobile apps (a session token in the X-Session-Token header). The normal pages stay.
HEADLESS_CLIENTS = ("browser", "app")
HEADLESS_ONLY = False
# allauth's OpenAPI specification at /_allauth/openapi.json and .yaml, served by api.auth_spec (allauth's own views
# cannot serialise our sign-up form's translated help text); its HTML page would load a CDN script, so it is off.
HEADLESS_SERVE_SPECIFICATION = True
HEADLESS_SPECIFICATION_TEMPLATE_NAME = None
# Cross-origin requests: none unless an origin is listed (comma-separated, e.g. https://app.example.org).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/(api|_allauth)/"
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_HEADERS = (
    "accept",
    "accept-language",
    "content-type",
    "x-csrftoken",
    "x-session-token",
    "x-age-decision",
    "x-portal-token",
)
# Paths whose refusals (invalid text, CSRF) answer in JSON instead of our HTML pages.
API_PATH_PREFIXES = ("/api/", "/_allauth/")
# Requests per minute for the API's own endpoints that send an email or check a password, per client IP
# (allauth's flows keep their own ACCOUNT_RATE_LIMITS).
API_EMAIL_RATE_PER_MINUTE = env.int("API_EMAIL_RATE_PER_MINUTE", default=5)
API_PASSWORD_RATE_PER_MINUTE = env.int("API_PASSWORD_RATE_PER_MINUTE", default=10)


def _social_app(prefix: str, **app_settings: Any) -> list[dict[str, Any]]:
    """One allauth app for a provider when its client id is set; none (provider hidden) otherwise."""
    client_id = env(f"{prefix}_CLIENT_ID", default="")
    if not client_id:
        return []
    app: dict[str, Any] = {"client_id": client_id, "secret": env(f"{prefix}_CLIENT_SECRET", default="")}
    if app_settings:
        app["settings"] = app_settings
    return [app]


# Only name and email are requested from each provider (the smallest scopes that give them).
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, Any]] = {
    "google": {"APPS": _social_app("GOOGLE"), "SCOPE": ["openid", "profile", "email"]},
    "facebook": {
        "APPS": _social_app("FACEBOOK"),
        "SCOPE": ["email", "public_profile"],
        "FIELDS": ["id", "email", "first_name", "last_name", "name"],
        "METHOD": "oauth2",
    },
    "microsoft": {
        "APPS": _social_app("MICROSOFT", tenant=env("MICROSOFT_TENANT", default="common")),
        "SCOPE": ["User.Read"],
    },
    "yahoo": {"APPS": _social_app("YAHOO"), "SCOPE": ["openid", "profile", "email"]},
}

# --- Email ---
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Mindomo <no-reply@mindomo.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Every email goes through the outbox (mindomo/outbox/): sent by one task that retries with exponential
# backoff (MAIL_RETRY_BASE_SECONDS doubling up to MAIL_RETRY_MAX_SECONDS) for MAIL_RETRY_HOURS while the mail
# server is down or answers 4xx. The parent's consent request (its key is never stored) follows the same schedule.
MAIL_SEND_TIMEOUT_SECONDS = env.int("MAIL_SEND_TIMEOUT_SECONDS", default=30)
MAIL_RETRY_BASE_SECONDS = env.int("MAIL_RETRY_BASE_SECONDS", default=30)
MAIL_RETRY_MAX_SECONDS = env.int("MAIL_RETRY_MAX_SECONDS", default=600)  # < CELERY_VISIBILITY_TIMEOUT
MAIL_RETRY_HOURS = env.int("MAIL_RETRY_HOURS", default=48)
# A worker's claim on a delivery it is sending; after it, the beat task hands the delivery to another worker.
OUTBOX_CLAIM_TIMEOUT_SECONDS = env.int("OUTBOX_CLAIM_TIMEOUT_SECONDS", default=600)
# A task message due this long ago that did not run was lost (broker restart, killed worker): publish again.
OUTBOX_LOST_AFTER_SECONDS = env.int("OUTBOX_LOST_AFTER_SECONDS", default=120)
# Deliveries due later than this are published by the beat task when due, not as long-delayed messages.
OUTBOX_PUBLISH_HORIZON_SECONDS = env.int("OUTBOX_PUBLISH_HORIZON_SECONDS", default=300)  # < CELERY_VISIBILITY_TIMEOUT
OUTBOX_SENT_RETENTION_DAYS = env.int("OUTBOX_SENT_RETENTION_DAYS", default=7)
OUTBOX_FAILED_RETENTION_DAYS = env.int("OUTBOX_FAILED_RETENTION_DAYS", default=30)

# --- Internationalisation ---
# The catalogues (locale/<lang>/LC_MESSAGES/django.po) are complete for every language here; `make messages`
# updates them and the lint step fails while one lacks a translation (README, "Languages").
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ro", _("Romanian")),
    ("de", _("German")),
    ("fr", _("French")),
    ("es", _("Spanish")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The visitor's choice is remembered for a year (a signed-in person's choice is also stored on the account,
# accounts.middleware.UserLanguageMiddleware, and wins on every device).
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=False)
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (served locally by whitenoise; nothing from a CDN) ---
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env("STATICFILES_BACKEND", default="whitenoise.storage.CompressedManifestStaticFilesStorage")
    },
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))
# Files another process must read (export archives, background jobs' results: mindomo/files.py) live in the
# "default" storage: local files under MEDIA_ROOT (one machine), or S3-compatible object storage shared by every
# web and worker machine when STORAGE_BUCKET is set (STORAGE_URL: the endpoint of a MinIO or other non-AWS
# service; empty for Amazon S3). Nothing there is public: files reach their owner through views that check.
STORAGE_BUCKET = env("STORAGE_BUCKET", default="")
if STORAGE_BUCKET:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": STORAGE_BUCKET,
            "endpoint_url": env("STORAGE_URL", default="") or None,
            "access_key": env("STORAGE_ACCESS_KEY", default="") or None,
            "secret_key": env("STORAGE_SECRET_KEY", default="") or None,
            "region_name": env("STORAGE_REGION", default="") or None,
            "location": env("STORAGE_PREFIX", default=""),
            "addressing_style": "path" if env("STORAGE_URL", default="") else None,
            "default_acl": None,  # the bucket's own (private) policy
            "querystring_auth": True,  # no public URL; we never hand one out anyway
            "file_overwrite": False,  # names are random; never replace a file another request serves
        },
    }

# --- Security ---
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=False)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# our 403 page, or the API's JSON error under /api/ and /_allauth/
CSRF_FAILURE_VIEW = "mindomo.csrf.csrf_failure"

# Content-Security-Policy (analytics.middleware.SecurityHeadersMiddleware). Extra origins a form of ours may end at
# (form-action), comma-separated, e.g. a new payment provider; the configured OAuth providers and, when
# TWOCHECKOUT_MERCHANT_CODE is set, 2Checkout's checkout are added.
CSP_FORM_ACTION_EXTRA = env.list("CSP_FORM_ACTION_EXTRA", default=[])
# Sources added to the policy on named pages only: the pages taking a card load Braintree's Drop-in (Braintree's
# own hosts; its telemetry host client-analytics.braintreegateway.com is left out on purpose).
_BRAINTREE_DROPIN_SOURCES = {
    "script-src": ["https://js.braintreegateway.com", "https://assets.braintreegateway.com"],
    "style-src": ["https://assets.braintreegateway.com"],
    "img-src": ["https://assets.braintreegateway.com"],
    "frame-src": ["https://assets.braintreegateway.com"],
    "connect-src": [
        "https://api.braintreegateway.com",
        "https://api.sandbox.braintreegateway.com",
        "https://payments.braintree-api.com",
        "https://payments.sandbox.braintree-api.com",
    ],
}
CSP_PAGE_SOURCES: dict[str, dict[str, list[str]]] = {
    "billing:order_pay": _BRAINTREE_DROPIN_SOURCES,
    "consent:portal_disclosure": _BRAINTREE_DROPIN_SOURCES,  # the parent portal's card check
}

# --- Logging ---
# Every handler redacts the secret of emailed links (consent key, portal token, ...) with the function
# gunicorn's access log uses (mindomo.redaction). Django's own "django" and "django.server" loggers are
# redefined here so that no handler of Django's default configuration writes an unredacted path.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "mindomo.redaction.RedactSecretsFilter"}},
    "formatters": {
        "django.server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

# --- Celery (Redis broker) and the one beat schedule ---
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Surviving Redis and the worker (README, "Operations"):
# - the worker and beat wait for Redis at start and reconnect for ever after a Redis restart;
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# - a task whose worker process died (SIGKILL, out of memory) goes back to the queue at once instead of being
#   acknowledged as failed; tasks still running when the connection is lost are cancelled (their message comes
#   back anyway with acks late, so they would otherwise run twice);
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# - no task runs longer than CELERY_TASK_TIME_LIMIT (bulk jobs work in batches and queue the rest), and a message
#   taken by a worker that vanished (killed machine, lost connection) is handed to another worker after the
#   visibility timeout. It must exceed the hard time limit and every delay a task is published with
#   (OUTBOX_PUBLISH_HORIZON_SECONDS, MAIL_RETRY_MAX_SECONDS; tests/ops/test_celery_settings.py checks it).
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=900)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    # A message handed back while its first run may still be alive would run twice at once, and a resumed job
    # (an erasure's lease is CELERY_TASK_TIME_LIMIT) would take the live run for a dead one.
    raise ImproperlyConfigured(
        "CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT must hold"
    )
# - every worker looks for messages taken longer than the visibility timeout ago and not acknowledged (their worker
#   vanished) every CELERY_UNACKED_RESTORE_SECONDS and puts them back in the queue; kombu's default is a scan
#   every 100 s (an interval of 10 s, throttled to every 10th call), so a killed worker's message came back up to
#   100 s late. The scan is one indexed Redis query; concurrent restores are safe (each message is moved in a
#   WATCHed transaction), so the mutex that spares the scans only needs to outlive one.
CELERY_UNACKED_RESTORE_SECONDS = env.int(
    "CELERY_UNACKED_RESTORE_SECONDS", default=max(1, min(60, CELERY_VISIBILITY_TIMEOUT // 15))
)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "unacked_restore_interval": CELERY_UNACKED_RESTORE_SECONDS,
    "unacked_restore_throttle": 1,
    "unacked_mutex_expire": max(5, CELERY_UNACKED_RESTORE_SECONDS),
}
# Publishing a task while Redis is down fails after about 2 s instead of hanging the request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TIMEZONE = TIME_ZONE
# Two queues, so that bulk jobs never delay an email: "mail" (the outbox's deliveries, a child's consent request
# to the parent) and "bulk" (everything else: expiry, retention, exports, erasures, reports and the background
# jobs' files). Compose runs one worker per queue; a worker started without -Q (make run, the tests) consumes both.
CELERY_TASK_QUEUES = (Queue("mail"), Queue("bulk"))
CELERY_TASK_DEFAULT_QUEUE = "bulk"
CELERY_TASK_ROUTES = {
    "mindomo.outbox.tasks.*": {"queue": "mail"},
    "consent.tasks.consent_request_send_task": {"queue": "mail"},
}
# Every periodic job is here. Deleting what is past retention (expired exports, support inquiries, unanswered
# parental requests, invoices, the access log...) is one job: the retention engine applies every rule the apps'
# privacy providers declare, one indexed query per rule when nothing is due, every 10 minutes so that the
# shortest period (a parent's unanswered request) is kept promptly.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "privacy-retention": {
        "task": "privacy.tasks.retention_apply_task",
        "schedule": crontab(minute="*/10"),
    },
    "privacy-policy-reconsent": {
        "task": "privacy.tasks.policy_reconsent_followup_task",
        "schedule": crontab(hour=7, minute=20),
    },
    "outbox-resume": {
        "task": "mindomo.outbox.tasks.deliveries_resume_task",
        "schedule": 60.0,
    },
    "accounts-clear-expired-sessions": {
        "task": "accounts.tasks.sessions_clear_expired_task",
        "schedule": crontab(minute=45, hour=3),
    },
    # erasures whose grace period ended, and failed ones after ACCOUNT_ERASURE_RETRY_MINUTES
    "accounts-erase-due-accounts": {
        "task": "accounts.tasks.account_erasures_due_task",
        "schedule": crontab(minute="*/15"),
    },
    # data exports whose build died with its worker (or whose message was lost): built again, or failed
    "accounts-resume-data-exports": {
        "task": "accounts.tasks.data_exports_resume_task",
        "schedule": crontab(minute="*/5"),
    },
    # one reminder to the parent at half of CONSENT_REQUEST_TTL
    "consent-remind-parents": {
        "task": "consent.tasks.pending_signups_remind_task",
        "schedule": crontab(minute="5,35"),
    },
    # a signed checkpoint of every consent ledger chain's head (consent.ledger.checkpoint_create)
    "consent-ledger-checkpoint": {
        "task": "consent.tasks.ledger_checkpoint_task",
        "schedule": crontab(minute=50),
    },
    # children who reached the age of consent of their country
    "consent-age-up": {
        "task": "consent.tasks.children_age_up_find_task",
        "schedule": crontab(minute=20, hour=1),
    },
    # OneRoster zips previewed but never imported, after ROSTER_PREVIEW_TTL_HOURS
    "schools-delete-expired-roster-previews": {
        "task": "schools.tasks.roster_previews_expired_delete_task",
        "schedule": crontab(minute=50),
    },
    # OneRoster imports whose worker died (no progress for ROSTER_IMPORT_STALL_SECONDS) queued again
    "schools-resume-roster-imports": {
        "task": "schools.tasks.roster_imports_resume_task",
        "schedule": crontab(minute="*/5"),
    },
    "consent-children-inactivity": {
        "task": "consent.tasks.children_inactivity_announce_task",
        "schedule": crontab(minute=40, hour=1),
    },
}

# --- Accounts and data subject rights ---
# OneRoster imports (schools/oneroster.py): the uploaded zip, each CSV in it once unpacked, all of them, and the
# highest packing ratio accepted (a higher one is a zip bomb); demographics.csv is never opened.
ROSTER_UPLOAD_MAX_BYTES = env.int("ROSTER_UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
ROSTER_MEMBER_MAX_BYTES = env.int("ROSTER_MEMBER_MAX_BYTES", default=64 * 1024 * 1024)
ROSTER_TOTAL_MAX_BYTES = env.int("ROSTER_TOTAL_MAX_BYTES", default=256 * 1024 * 1024)
ROSTER_MAX_RATIO = env.int("ROSTER_MAX_RATIO", default=200)
# A roster import writes the whole file in one transaction, so its job may run longer than other tasks (a 5,000-
# student district file takes a minute or two); still under the broker's visibility timeout, so a message is never
# handed to a second worker while the first one runs it.
ROSTER_IMPORT_TIME_LIMIT = env.int(
    "ROSTER_IMPORT_TIME_LIMIT", default=max(CELERY_TASK_TIME_LIMIT, CELERY_VISIBILITY_TIMEOUT - 60)
)
if not CELERY_TASK_TIME_LIMIT <= ROSTER_IMPORT_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT <= ROSTER_IMPORT_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT must hold"
    )
# A queued or running roster import that showed no progress for this many seconds (its worker died) is shown
# to the school's administrators as "Interrupted" with "Try again", and beat (schools-resume-roster-imports)
# queues it again by itself up to ROSTER_IMPORT_MAX_ATTEMPTS runs. A run writes once a batch, every few seconds.
ROSTER_IMPORT_STALL_SECONDS = env.int("ROSTER_IMPORT_STALL_SECONDS", default=300)
ROSTER_IMPORT_MAX_ATTEMPTS = env.int("ROSTER_IMPORT_MAX_ATTEMPTS", default=3)
if ROSTER_IMPORT_STALL_SECONDS < 60 or ROSTER_IMPORT_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("ROSTER_IMPORT_STALL_SECONDS >= 60 and ROSTER_IMPORT_MAX_ATTEMPTS >= 1 must hold")
# Hours an uploaded roster zip is kept for its preview before it is deleted unimported.
ROSTER_PREVIEW_TTL_HOURS = env.int("ROSTER_PREVIEW_TTL_HOURS", default=24)

# Days before a sign-up whose email was never verified is deleted.
UNVERIFIED_ACCOUNT_TTL_DAYS = env.int("UNVERIFIED_ACCOUNT_TTL_DAYS", default=7)
# Hours a file prepared in the background (login cards, a child's data) can be downloaded; then it is deleted.
PREPARED_FILE_TTL_HOURS = env.int("PREPARED_FILE_TTL_HOURS", default=24)
# A file that took longer than this to prepare (or could not be prepared) is announced by email to the person who
# asked, with the link to its page: they may have left the page long ago.
PREPARED_FILE_NOTIFY_AFTER_SECONDS = env.int("PREPARED_FILE_NOTIFY_AFTER_SECONDS", default=60)
# Grade reports of up to this many rows are streamed as XLSX by the request; a larger one is prepared by a background
# job (the CPU of writing the sheet stays off the request). CSV is always streamed (PostgreSQL's COPY writes it).
REPORT_INLINE_MAX_ROWS = env.int("REPORT_INLINE_MAX_ROWS", default=20_000)
# Days a finished data export can be downloaded; then the file is deleted.
DATA_EXPORT_TTL_DAYS = env.int("DATA_EXPORT_TTL_DAYS", default=7)
# Days between a deletion request (account deactivated at once) and the erasure; signing in cancels.
ACCOUNT_DELETION_GRACE_DAYS = env.int("ACCOUNT_DELETION_GRACE_DAYS", default=14)
# Minutes after which a failed (or interrupted) erasure is retried automatically by Celery beat.
ACCOUNT_ERASURE_RETRY_MINUTES = env.int("ACCOUNT_ERASURE_RETRY_MINUTES", default=30)
# Days a support inquiry is kept to answer it; then deleted.
SUPPORT_INQUIRY_RETENTION_DAYS = env.int("SUPPORT_INQUIRY_RETENTION_DAYS", default=180)
# At most this many contact-form messages per hour from one IP address (and from one signed-in user).
SUPPORT_INQUIRIES_PER_HOUR = env.int("SUPPORT_INQUIRIES_PER_HOUR", default=5)

# --- Parental consent and the age gate ---
# How long a child's pending sign-up waits for the parent, in seconds (default 7 days); then deleted.
CONSENT_REQUEST_TTL = env.int("CONSENT_REQUEST_TTL", default=7 * 24 * 3600)
# The version of the privacy policy a consent is given under (recorded with each consent).
CONSENT_POLICY_VERSION = env("CONSENT_POLICY_VERSION", default="2018-05-24")
# How many times a child may have the parent's email sent again, per request.
CONSENT_RESEND_MAX = env.int("CONSENT_RESEND_MAX", default=3)
# At most this many consent emails to one parent address per day, whatever the children or browsers.
CONSENT_EMAILS_PER_PARENT_PER_DAY = env.int("CONSENT_EMAILS_PER_PARENT_PER_DAY", default=5)
# Delay of the email-plus follow-up after an approval, in seconds (default 1 day).
CONSENT_FOLLOW_UP_DELAY = env.int("CONSENT_FOLLOW_UP_DELAY", default=24 * 3600)
# How long the age gate's decision is bound to the browser, in seconds (at least 24 hours).
CONSENT_DECISION_COOKIE_AGE = max(env.int("CONSENT_DECISION_COOKIE_AGE", default=24 * 3600), 24 * 3600)
# Where parents write to exercise their rights.
CONSENT_SUPPORT_EMAIL = env("CONSENT_SUPPORT_EMAIL", default="support@mindomo.com")
# Ed25519 private key signing consent receipts: 32 random bytes, base64. Empty: derived from DJANGO_SECRET_KEY.
CONSENT_RECEIPT_SIGNING_KEY = env("CONSENT_RECEIPT_SIGNING_KEY", default="")
# The consent ledger's independent hash chains (a subject's chain: a stable hash of its pseudonym modulo this),
# each with its own append lock; changing it later sends only new rows elsewhere.
CONSENT_LEDGER_CHAINS = max(1, env.int("CONSENT_LEDGER_CHAINS", default=16))

# --- The parent portal ---
# A sign-in link works once for CONSENT_PORTAL_LINK_TTL seconds (default 15 minutes); the parent's session then
# lasts CONSENT_PORTAL_SESSION_SECONDS (default 3 hours).
CONSENT_PORTAL_LINK_TTL = env.int("CONSENT_PORTAL_LINK_TTL", default=15 * 60)
CONSENT_PORTAL_SESSION_SECONDS = env.int("CONSENT_PORTAL_SESSION_SECONDS", default=3 * 3600)
# Sign-in links asked for per hour, per email address and per IP address (shared cache).
CONSENT_PORTAL_LINKS_PER_ADDRESS_PER_HOUR = env.int("CONSENT_PORTAL_LINKS_PER_ADDRESS_PER_HOUR", default=5)
CONSENT_PORTAL_LINKS_PER_IP_PER_HOUR = env.int("CONSENT_PORTAL_LINKS_PER_IP_PER_HOUR", default=20)
# How many further guardians a consenting parent may invite per child.
CONSENT_GUARDIANS_MAX = env.int("CONSENT_GUARDIANS_MAX", default=1)

# --- Billing ---
# Braintree: "sandbox" / "production", or "local" for the offline stand-in on 127.0.0.1:BRAINTREE_LOCAL_PORT.
BRAINTREE_ENVIRONMENT = env("BRAINTREE_ENVIRONMENT", default="sandbox")
BRAINTREE_LOCAL_PORT = env.int("BRAINTREE_LOCAL_PORT", default=8765)
BRAINTREE_MERCHANT_ID = env("BRAINTREE_MERCHANT_ID", default="")
BRAINTREE_MERCHANT_ACCOUNT_ID = env("BRAINTREE_MERCHANT_ACCOUNT_ID", default="")
BRAINTREE_PUBLIC_KEY = env("BRAINTREE_PUBLIC_KEY", default="")
BRAINTREE_PRIVATE_KEY = env("BRAINTREE_PRIVATE_KEY", default="")
BRAINTREE_TIMEOUT_SECONDS = env.float("BRAINTREE_TIMEOUT_SECONDS", default=30.0)
# The template holding the Drop-in UI (tests swap it for a widget posting a test nonce).
BILLING_DROPIN_TEMPLATE = "billing/_dropin.html"
# Offline demo payments (`make run` sets it when no Braintree keys are configured): the payment page posts a
# demo card to the local Braintree stand-in and says "Demo payments". Never with DJANGO_DEBUG=false and never
# against a real Braintree environment, whatever the variable says.
BILLING_DEMO_PAYMENTS = env.bool("BILLING_DEMO_PAYMENTS", default=False) and DEBUG and BRAINTREE_ENVIRONMENT == "local"
if BILLING_DEMO_PAYMENTS:
    BILLING_DROPIN_TEMPLATE = "billing/_dropin_demo.html"
TWOCHECKOUT_MERCHANT_CODE = env("TWOCHECKOUT_MERCHANT_CODE", default="")
TWOCHECKOUT_SECRET_KEY = env("TWOCHECKOUT_SECRET_KEY", default="")
TWOCHECKOUT_BUY_LINK_SECRET = env("TWOCHECKOUT_BUY_LINK_SECRET", default="")
TWOCHECKOUT_CHECKOUT_URL = env("TWOCHECKOUT_CHECKOUT_URL", default="https://secure.2checkout.com/checkout/buy")
TWOCHECKOUT_TEST_MODE = env.bool("TWOCHECKOUT_TEST_MODE", default=False)
# The seller printed on invoices.
SELLER_NAME = env("SELLER_NAME", default="Expert Software Applications SRL")
SELLER_ADDRESS = env("SELLER_ADDRESS", default="Str. Exemplu 1, 400000 Cluj-Napoca, Romania")
SELLER_COUNTRY = env("SELLER_COUNTRY", default="RO")
SELLER_VAT_ID = env("SELLER_VAT_ID", default="RO12345678")
SELLER_EMAIL = env("SELLER_EMAIL", default="billing@mindomo.localhost")
# Years an invoice is kept (the tax duty); then the retention engine purges it (rule "billing.invoices").
INVOICE_RETENTION_YEARS = env.int("INVOICE_RETENTION_YEARS", default=10)

# --- Grading ---
# A gradebook grid posts two fields per cell (score and feedback): Django's default cap of 1,000 fields
# would refuse a class of 200 students. The gradebook shows as many assignment columns as fit under this
# cap (older ones one click away); DATA_UPLOAD_MAX_MEMORY_SIZE still bounds the request body.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

# --- Privacy operations ---
ACCESS_LOG_RETENTION_DAYS = env.int("ACCESS_LOG_RETENTION_DAYS", default=730)
# Notices to all users go out in batches of NOTICE_BATCH_SIZE every NOTICE_BATCH_INTERVAL seconds.
NOTICE_BATCH_SIZE = env.int("NOTICE_BATCH_SIZE", default=200)
NOTICE_BATCH_INTERVAL = env.int("NOTICE_BATCH_INTERVAL", default=60)
# After a material change of the privacy policy, parents of children under their consent are asked to agree:
# one reminder POLICY_RECONSENT_DAYS after, then POLICY_RECONSENT_DAYS later the child's account is paused
# (collection stops) until a parent agrees.
POLICY_RECONSENT_DAYS = env.int("POLICY_RECONSENT_DAYS", default=14)
# COPPA 312.10: a child's or school-registered account nobody signs in to for CHILD_INACTIVITY_DAYS is announced
# to the parent (or the school), then erased through the pipeline CHILD_INACTIVITY_NOTICE_DAYS later unless
# someone signs in meanwhile.
CHILD_INACTIVITY_DAYS = env.int("CHILD_INACTIVITY_DAYS", default=365)
CHILD_INACTIVITY_NOTICE_DAYS = env.int("CHILD_INACTIVITY_NOTICE_DAYS", default=30)
# A parent's separate consent to a disclosure, by card: this amount is charged and refunded at once (the card's
# holder is notified of the transaction by the card network, and by our email).
CONSENT_CARD_CHARGE_AMOUNT = env("CONSENT_CARD_CHARGE_AMOUNT", default="0.50")
# A signed consent form uploaded in the parent portal for staff review: the largest file accepted.
CONSENT_FORM_MAX_BYTES = env.int("CONSENT_FORM_MAX_BYTES", default=5 * 1024 * 1024)

# --- Cookies and analytics ---
# How long the cookie holding the visitor's cookie choice lasts, in days (then the banner asks again).
ANALYTICS_CHOICE_COOKIE_DAYS = env.int("ANALYTICS_CHOICE_COOKIE_DAYS", default=180)
# How long a signed-in user's "child or school account" status and stored choice are cached in the session (s).
ANALYTICS_AUDIENCE_RECHECK_SECONDS = env.int("ANALYTICS_AUDIENCE_RECHECK_SECONDS", default=300)
# How long the main menu's facts about a signed-in person (child, teacher, may buy...) are kept in the session (s).
NAVIGATION_RECHECK_SECONDS = env.int("NAVIGATION_RECHECK_SECONDS", default=60)

# --- Staff security (privacy app): MFA for every staff account, idle timeout, new-browser alerts ------------
# allauth.mfa: authenticator app codes (TOTP) with recovery codes, and security keys / passkeys (WebAuthn).
# Staff (is_staff, superusers, any privacy role) cannot open any page but the MFA setup until they have one;
# adults may turn it on; children and school-registered accounts are not offered it (privacy/staff_security.py).
MFA_ADAPTER = "accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
# Security keys and passkeys are a second factor after the password (no passwordless sign-in: staff sign-ins
# always prove two things, and the sign-in page stays one form).
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_TOTP_ISSUER = env("MFA_TOTP_ISSUER", default="Mindomo")
# Accept the code of the previous and the next 30-second step (clock drift, RFC 6238 §6); each code works once.
MFA_TOTP_TOLERANCE = 1
# WebAuthn needs a secure origin; only a development server on plain http may relax it (never in production).
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# A staff session ends after this many seconds without a request (default 30 minutes).
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=1800)
# Days a data-subject request case is due after it is opened.
DSR_DEADLINE_DAYS = env.int("DSR_DEADLINE_DAYS", default=30)
