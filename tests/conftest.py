"""Shared fixtures: roles, the cache, the SMTP sink and the session's one real Celery worker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from mindomo.roles import BILLING_CLERK_GROUP, PRIVACY_OFFICER_GROUP, SUPPORT_GROUP
from tests.accounts.factories import PASSWORD, UserFactory
from tests.support import roles
from tests.support.mfa import sign_in
from tests.support.smtp import SmtpSink

# Playwright's sync API runs an event loop in the test thread; Django's ORM must still be usable there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# A test the compliance map (docs/compliance.toml) cites may not be skipped: the session fails if one is.
pytest_plugins = ["tests.support.compliance_plugin"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A ``slow`` test starts its own servers (gunicorn, Redis, PostgreSQL, Celery workers): it runs once, never
    once per parameter. Fast parametrised checks next to it take no ``slow`` mark."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if item.get_closest_marker("slow") is not None and callspec is not None and callspec.params:
            raise pytest.UsageError(f"{item.nodeid}: a slow test is not parametrised (pyproject's `slow` marker)")


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    """Rate-limit counters and cached values never leak from one test into the next."""
    yield
    client = cache._cache.get_client()
    prefix = cache.key_prefix
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request in another language leaves that language active in the thread (LocaleMiddleware activates it
    and nothing deactivates it): every test starts and ends in the default language, so none inherits the
    last request's language of the test before it (a parent's email would go out in it)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def fresh_statements() -> Iterator[None]:
    """The statements compiled once per process (``mindomo.statements``) are forgotten before and after the test,
    so a test of the compiled path compiles its own and leaves none for the next."""
    from mindomo import statements

    statements.forget()
    yield
    statements.forget()


LOCAL_APPS = {"accounts", "consent", "billing", "grading", "privacy", "analytics"}


def _replay_data_migrations() -> None:
    """Run our data migrations again (they are idempotent), in dependency order."""
    from django.apps import apps
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader
    from django.db.migrations.operations.special import RunPython

    loader = MigrationLoader(connection)
    seen: set[tuple[str, str]] = set()
    for leaf in sorted(loader.graph.leaf_nodes()):
        for node in loader.graph.forwards_plan(leaf):
            if node in seen or node[0] not in LOCAL_APPS:
                continue
            seen.add(node)
            for operation in loader.graph.nodes[node].operations:
                if isinstance(operation, RunPython):
                    operation.code(apps, None)


@pytest.fixture(autouse=True)
def _data_migrations_survive_flushes(request: pytest.FixtureRequest, django_db_blocker: Any) -> None:
    """A transactional test (live server, real Celery worker) ends with a flush of every table, which also
    removes what data migrations loaded (the site, age rules, VAT rates, the first policy version). Before each
    database test, put it back when a flush took it. The first policy version is the sentinel: only a data
    migration creates it (the site row is no good: a flush's post_migrate signal recreates example.com)."""
    uses_db = request.node.get_closest_marker("django_db") is not None or bool(
        {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not uses_db:
        return
    from privacy.models import PolicyVersion

    with django_db_blocker.unblock():
        if not PolicyVersion.objects.exists():
            _replay_data_migrations()


# --- roles -----------------------------------------------------------------------------------------
@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def member(db: Any) -> User:
    """An adult who signed up and verified their email."""
    return UserFactory(first_name="Ada", last_name="Lovelace", country="GB")


@pytest.fixture
def other_member(db: Any) -> User:
    return UserFactory()


@pytest.fixture
def superuser(db: Any) -> User:
    return roles.make_superuser()


@pytest.fixture
def member_client(member: User) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def superuser_client(superuser: User) -> Client:
    return sign_in(Client(), superuser)


# --- email over real SMTP -------------------------------------------------------------------------
@pytest.fixture(scope="session")
def smtp_sink_server() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(smtp_sink_server: SmtpSink, settings: Any) -> Iterator[SmtpSink]:
    """Django sends real SMTP to the sink for this test."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_sink_server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    smtp_sink_server.clear()
    yield smtp_sink_server
    smtp_sink_server.clear()


# --- one real Celery worker per test session (RECIPES.md) ------------------------------------------
@pytest.fixture(scope="session")
def celery_worker_session(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Any]:
    # No ping check: it needs a result backend, and results are ignored here (CELERY_RESULT_BACKEND None);
    # start_worker still waits until the worker is ready. Tests await their task through task_postrun.
    from celery.contrib.testing.worker import start_worker

    from mindomo.celery import app

    app.conf.task_always_eager = False
    try:
        with django_db_blocker.unblock(), start_worker(app, pool="solo", perform_ping_check=False) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = True


@pytest.fixture
def real_celery_worker(celery_worker_session: Any, settings: Any) -> Iterator[Any]:
    """Tasks go through Redis to the session's worker during this test (use with transactional_db)."""
    from mindomo.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    yield celery_worker_session
    app.conf.task_always_eager = True


# --- a social provider's servers, served locally ---------------------------------------------------
@pytest.fixture
def fake_microsoft(settings: Any) -> Iterator[Any]:
    """allauth's Microsoft provider configured against a local fake of Microsoft's endpoints."""
    from tests.support.fake_oauth import FakeMicrosoft

    fake = FakeMicrosoft()
    fake.start()
    fake.profile = {
        "id": "00000000-0000-0000-0000-00000000beef",
        "givenName": "Marie",
        "surname": "Curie",
        "displayName": "Marie Curie",
        "mail": "marie.curie@example.org",
        "userPrincipalName": "marie.curie@example.org",
        # what Graph also sends and we must not keep
        "jobTitle": "Physicist",
        "mobilePhone": "+33 1 23 45 67 89",
        "officeLocation": "Paris, Building 4",
        "preferredLanguage": "fr-FR",
    }
    providers = {**settings.SOCIALACCOUNT_PROVIDERS}
    providers["microsoft"] = {**providers["microsoft"], "APPS": [fake.app_settings()]}
    settings.SOCIALACCOUNT_PROVIDERS = providers
    yield fake
    fake.stop()


# --- billing: Braintree's API served locally, the real SDK pointed at it (RECIPES.md) ---------------
@pytest.fixture(scope="session")
def fake_braintree_server() -> Iterator[Any]:
    from tests.billing.fake_braintree import FakeBraintree

    fake = FakeBraintree()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_braintree(fake_braintree_server: Any, settings: Any) -> Iterator[Any]:
    """The braintree SDK talks to the local fake during this test; ``.state`` records what it received."""
    settings.BRAINTREE_ENVIRONMENT = "local"
    settings.BRAINTREE_LOCAL_PORT = fake_braintree_server.port
    settings.BRAINTREE_MERCHANT_ID = fake_braintree_server.merchant_id
    settings.BRAINTREE_PUBLIC_KEY = fake_braintree_server.public_key
    settings.BRAINTREE_PRIVATE_KEY = fake_braintree_server.private_key
    settings.BRAINTREE_MERCHANT_ACCOUNT_ID = ""
    settings.BRAINTREE_TIMEOUT_SECONDS = 0.5
    fake_braintree_server.reset()
    yield fake_braintree_server
    fake_braintree_server.reset()


# --- roles: every role is made by tests/support/roles.py; these fixtures are the one set the tests use -------
@pytest.fixture
def client_as(db: Any) -> Callable[[str], tuple[Client, User | None]]:
    """``client_as(role)``: a browser signed in as a new user in ``role`` (see tests.support.roles.MAKERS), and
    that user (None for "anonymous"). The access matrices parametrize over role names."""

    def signed_in(role: str) -> tuple[Client, User | None]:
        user = roles.make(role)
        client = Client()
        if user is not None:
            sign_in(client, user)  # staff also pass the second factor
        return client, user

    return signed_in


@pytest.fixture
def support_user(db: Any) -> User:
    return roles.make_staff(SUPPORT_GROUP)


@pytest.fixture
def billing_clerk_user(db: Any) -> User:
    return roles.make_staff(BILLING_CLERK_GROUP)


@pytest.fixture
def privacy_officer_user(db: Any) -> User:
    return roles.make_staff(PRIVACY_OFFICER_GROUP)


@pytest.fixture
def staff_without_role(db: Any) -> User:
    return roles.make_staff()


@pytest.fixture
def erase_now(django_capture_on_commit_callbacks: Any) -> Any:
    """Erase an account at once through the one erasure path (``accounts.services.account_erase_now``, the
    pipeline the parent portal, school removal and staff use), running what it queues after commit."""
    from accounts import services as account_services

    def erase(user: User, *, requested_by: str = "privacy_officer", reason: str = "the person's request") -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return account_services.account_erase_now(user=user, requested_by=requested_by, reason=reason)

    return erase


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Callable[..., Any]:
    """Run a request or service and then what it queued for after commit (Celery is eager in tests)."""

    def run(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return func(*args, **kwargs)

    return run
