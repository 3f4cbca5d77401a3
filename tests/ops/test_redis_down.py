"""While Redis (the shared cache) cannot be reached: pages keep working from the database and process memory,
and every limit that protects people fails closed with a clear message, never a 500, and changes nothing.

The cache is pointed at a port nothing listens on (a Redis that is down); the real stop-and-start of a private
Redis with gunicorn and a worker is tests/ops/test_faults.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import SupportInquiry
from consent.models import PendingSignup
from consent.portal import session as portal_session
from mindomo.cache import CacheUnavailable, ResilientRedisCache, count
from tests.consent.helpers import pass_age_gate
from tests.support.smtp import free_port

pytestmark = pytest.mark.django_db

UNAVAILABLE = "briefly unavailable"


@pytest.fixture
def redis_down(settings: Any) -> Iterator[None]:
    """The cache's Redis is down (connection refused), for this test only."""
    caches = {**settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}
    settings.CACHES = caches
    return


def test_the_cache_answers_from_process_memory_while_redis_is_down_and_refuses_strict_counts(redis_down: None) -> None:
    from django.core.cache import caches

    backend = caches["default"]
    assert isinstance(backend, ResilientRedisCache)
    assert backend.get("k") is None
    backend.set("k", "v", 30)
    assert backend.get("k") == "v"
    assert backend.degraded
    assert backend.add("n", 0, 30)
    assert backend.incr("n") == 1
    with pytest.raises(CacheUnavailable):
        count("protective", timeout=60)


def test_strict_counts_go_to_redis_when_it_is_up() -> None:
    assert count("ops-test-counter", timeout=60) == 1
    assert count("ops-test-counter", timeout=60) == 2


@pytest.mark.parametrize(
    "path", ["/", "/privacy/", "/accounts/login/", "/accounts/signup/", "/consent/age/", "/consent/parents/"]
)
def test_pages_that_do_not_need_redis_answer_while_it_is_down(redis_down: None, path: str) -> None:
    response = Client().get(path, follow=True)
    assert response.status_code == 200


def test_a_member_signs_in_while_redis_is_down_allauths_limits_held_in_process_memory(
    redis_down: None, member: Any, password: str
) -> None:
    client = Client()
    response = client.post(reverse("account_login"), {"login": member.email, "password": password})
    assert response.status_code == 302
    assert client.get(reverse("accounts:profile")).status_code == 200


def test_a_childs_sign_up_fails_closed_with_a_clear_message_and_stores_nothing(redis_down: None) -> None:
    client = Client()
    pass_age_gate(client, age=10, country="US")
    data = {"login": "quietchild", "password1": "purple-giraffe-runs-42", "password2": "purple-giraffe-runs-42"}
    response = client.post(reverse("consent:child_signup"), {**data, "parent_email": "parent@example.org"})
    assert response.status_code == 200
    assert UNAVAILABLE in response.content.decode()
    assert not PendingSignup.objects.exists()


def test_the_portal_link_request_and_link_use_fail_closed(redis_down: None) -> None:
    response = Client().post(reverse("consent:portal"), {"email": "parent@example.org"})
    assert response.status_code == 200
    assert UNAVAILABLE in response.content.decode()
    token = portal_session._link_fernet().encrypt(json.dumps({"e": "parent@example.org", "n": "x"}).encode()).decode()
    for method in ("get", "post"):
        response = getattr(Client(), method)(reverse("consent:portal_link", args=[token]))
        page = response.content.decode()
        assert response.status_code == 503
        assert UNAVAILABLE in page
        assert "Your link still works" in page
        assert "This link cannot be used" not in page


def test_the_contact_forms_hourly_limit_fails_closed(redis_down: None) -> None:
    message = {"name": "Grace Hopper", "email": "grace@example.org", "topic": "privacy", "message": "Hello?"}
    response = Client().post(reverse("accounts:support"), message)
    assert response.status_code == 200
    assert UNAVAILABLE in response.content.decode()
    assert not SupportInquiry.objects.exists()


def test_an_adult_signs_up_while_redis_is_down(redis_down: None, django_capture_on_commit_callbacks: Any) -> None:
    from allauth.account.models import EmailAddress

    from tests.accounts.test_signup import SIGNUP

    client = Client()
    pass_age_gate(client, age=30, country="GB")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == 302
    assert EmailAddress.objects.filter(email=SIGNUP["email"], verified=False).exists()


def test_each_cache_reuses_its_redis_client_and_still_answers_while_redis_is_down(settings: Any) -> None:
    """Django makes a redis-py client for every call; ours is made once per connection pool (mindomo.cache)."""
    from django.core.cache import caches

    for alias in ("default", "sessions"):
        backend: Any = caches[alias]
        assert backend._cache.get_client() is backend._cache.get_client()
        assert backend._cache.get_client() is backend._cache.get_client(write=True)  # one server: one pool
        backend.set("reused-client", 1, 30)
        assert backend.get("reused-client") == 1
    down = ResilientRedisCache(f"redis://127.0.0.1:{free_port()}/0", {})
    down.set("k", 2)
    assert down._cache.get_client() is down._cache.get_client()
    assert down.get("k") == 2  # from process memory, as before
