"""The shared cache on Redis, and what happens to each use of it while Redis is down.

Decided per use (README, "Operations"):

- **Plain caching and allauth's rate limits** (``django.core.cache.cache``): ``ResilientRedisCache`` answers from
  a per-process memory cache while Redis cannot be reached, and goes back to Redis as soon as it answers again
  (each call tries Redis first; a refused connection costs well under a millisecond). A cached value is read
  again from the database; allauth's limits still hold, per web process instead of across all of them.
- **Limits that protect people** (the per-parent daily cap on consent emails, the portal's sign-in link limits
  and single use, the contact form's hourly limit): they must never open because Redis is down, so they use
  ``count`` / ``strict_get`` / ``strict_add`` here, which raise ``CacheUnavailable``; the service turns it into a
  clear, translated "try again in a few minutes" and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)
# One warning per process at most this often while the outage lasts.
WARN_EVERY_SECONDS = 30.0

T = TypeVar("T")


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client that makes one redis-py client per connection pool and reuses it: Django makes
    a new one for every call (copying its table of about 170 reply handlers), about half the CPU of a cached
    read. A redis-py client is safe to share between threads (each command takes a connection from the pool),
    and its pool, the same as before, opens new connections in a forked process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[Any, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # Django's private attributes, not in its type stubs
        pool = django_client._get_connection_pool(write)  # a replica chosen for each read, as Django does
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = django_client._client(connection_pool=pool)
        return client


class CacheUnavailable(Exception):
    """Redis, holding a limit that protects people, cannot be reached: the caller fails closed."""


class ResilientRedisCache(RedisCache):
    """Django's Redis cache that degrades to a per-process memory cache while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        params = {**params, "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1, **params.get("OPTIONS", {})}}
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
        self._fallback = LocMemCache(f"resilient-fallback-{id(self)}", {"KEY_PREFIX": self.key_prefix})
        self._warned_at = 0.0
        self.degraded = False

    def _call(self, name: str, redis_call: Callable[[], T], fallback_call: Callable[[], T]) -> T:
        try:
            result = redis_call()
        except UNAVAILABLE as error:
            now = time.monotonic()
            if not self.degraded or now - self._warned_at > WARN_EVERY_SECONDS:
                logger.warning("cache: Redis unreachable (%s: %s); using this process's memory", name, error)
                self._warned_at = now
            self.degraded = True
            return fallback_call()
        if self.degraded:
            logger.warning("cache: Redis answers again")
            self.degraded = False
        return result

    # every public operation of Django's RedisCache (decr, get_or_set, ... are built on these)
    def add(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> bool:
        if timeout is None:
            timeout = self.default_timeout
        return self._call(
            "add",
            lambda: super(ResilientRedisCache, self).add(key, value, timeout, version),
            lambda: self._fallback.add(key, value, timeout, version),
        )

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._call(
            "get",
            lambda: super(ResilientRedisCache, self).get(key, default, version),
            lambda: self._fallback.get(key, default, version),
        )

    def set(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> None:
        if timeout is None:
            timeout = self.default_timeout
        self._call(
            "set",
            lambda: super(ResilientRedisCache, self).set(key, value, timeout, version),
            lambda: self._fallback.set(key, value, timeout, version),
        )

    def touch(self, key: Any, timeout: Any = None, version: Any = None) -> bool:
        if timeout is None:
            timeout = self.default_timeout
        return self._call(
            "touch",
            lambda: super(ResilientRedisCache, self).touch(key, timeout, version),
            lambda: self._fallback.touch(key, timeout, version),
        )

    def delete(self, key: Any, version: Any = None) -> bool:
        self._fallback.delete(key, version)  # never serve a stale local copy once Redis is back
        return self._call("delete", lambda: super(ResilientRedisCache, self).delete(key, version), lambda: True)

    def get_many(self, keys: Any, version: Any = None) -> dict[Any, Any]:
        return self._call(
            "get_many",
            lambda: super(ResilientRedisCache, self).get_many(keys, version),
            lambda: self._fallback.get_many(keys, version),
        )

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._call(
            "has_key",
            lambda: super(ResilientRedisCache, self).has_key(key, version),
            lambda: self._fallback.has_key(key, version),
        )

    def incr(self, key: Any, delta: int = 1, version: Any = None) -> Any:
        return self._call(
            "incr",
            lambda: super(ResilientRedisCache, self).incr(key, delta, version),
            lambda: self._fallback.incr(key, delta, version),
        )

    def set_many(self, data: Any, timeout: Any = None, version: Any = None) -> list[Any]:
        if timeout is None:
            timeout = self.default_timeout
        return self._call(
            "set_many",
            lambda: super(ResilientRedisCache, self).set_many(data, timeout, version),
            lambda: self._fallback.set_many(data, timeout, version),
        )

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._fallback.delete_many(keys, version)
        self._call("delete_many", lambda: super(ResilientRedisCache, self).delete_many(keys, version), lambda: None)

    def clear(self) -> None:
        self._fallback.clear()
        self._call("clear", lambda: super(ResilientRedisCache, self).clear(), lambda: None)

    # the strict operations, for limits that protect people: Redis or an exception, never the local memory
    def strict(self, operation: Callable[[RedisCache], T]) -> T:
        try:
            return operation(super())  # type: ignore[arg-type]
        except UNAVAILABLE as error:
            logger.warning("cache: Redis unreachable for a protective limit (%s); refusing", error)
            raise CacheUnavailable from error


def _strict(operation: Callable[[Any], T]) -> T:
    backend = caches["default"]
    if isinstance(backend, ResilientRedisCache):
        return backend.strict(operation)
    try:
        return operation(backend)
    except UNAVAILABLE as error:
        raise CacheUnavailable from error


def count(key: str, *, timeout: int) -> int:
    """Count one more event under ``key`` (expiring ``timeout`` seconds after the first); the new count.
    Raises CacheUnavailable while Redis is down."""

    def operation(backend: Any) -> int:
        backend.add(key, 0, timeout=timeout)
        try:
            return int(backend.incr(key))
        except ValueError:  # the counter expired between add and incr
            backend.set(key, 1, timeout=timeout)
            return 1

    return _strict(operation)


def strict_get(key: str) -> Any:
    return _strict(lambda backend: backend.get(key))


def strict_add(key: str, value: Any, *, timeout: int) -> bool:
    return bool(_strict(lambda backend: backend.add(key, value, timeout=timeout)))


def unavailable_error() -> ValidationError:
    """The error a protective limit gives while Redis is down: nothing was done, try again soon."""
    return ValidationError(
        _(
            "This cannot be done right now because a service we rely on is briefly unavailable. Nothing was saved. "
            "Please try again in a few minutes."
        ),
        code="unavailable",
    )


class SessionCache(RedisCache):
    """The sessions' cache (``SESSION_CACHE_ALIAS``, in front of the session rows: accounts.sessions).

    Never a per-process copy: while Redis is unreachable a read is a miss (the session comes from its database
    row) and a write or delete is skipped with a warning, so a session ended on one machine is never served by
    another from its memory."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        params = {**params, "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1, **params.get("OPTIONS", {})}}
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    def _quiet(self, name: str, call: Callable[[], T], fallback: T) -> T:
        try:
            return call()
        except UNAVAILABLE as error:
            logger.warning("session cache: Redis unreachable (%s: %s); using the database", name, error)
            return fallback

    def get(self, key: Any, default: Any = None, version: Any = None) -> Any:
        return self._quiet("get", lambda: super(SessionCache, self).get(key, default, version), default)

    def set(self, key: Any, value: Any, timeout: Any = None, version: Any = None) -> None:
        if timeout is None:
            timeout = self.default_timeout
        self._quiet("set", lambda: super(SessionCache, self).set(key, value, timeout, version), None)

    def delete(self, key: Any, version: Any = None) -> bool:
        return self._quiet("delete", lambda: super(SessionCache, self).delete(key, version), False)

    def delete_many(self, keys: Any, version: Any = None) -> None:
        self._quiet("delete_many", lambda: super(SessionCache, self).delete_many(keys, version), None)

    def has_key(self, key: Any, version: Any = None) -> bool:
        return self._quiet("has_key", lambda: super(SessionCache, self).has_key(key, version), False)
