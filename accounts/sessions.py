"""The session store: Django's cached database sessions, each row stored with the id of its signed-in user.

``SESSION_ENGINE = "accounts.sessions"``. A session is read from the shared cache (Redis) and, on a miss, from
its database row (Django's ``cached_db``): every web process on every machine sees the same sessions, and a
request usually reads its session without a query. Every save writes the database row first, with the user id
beside the session (so a new key after sign-in or a password change is indexed too), then the cache.
:func:`accounts.services.user_sessions_end` ends every session of an account with one DELETE by user id and
removes those keys from the cache (:func:`forget`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDatabaseSessionStore
from django.core.cache import caches


def forget(session_keys: list[str]) -> None:
    """Drop sessions from the cache (their rows are already deleted): the next request reads no row and starts
    a new, anonymous session."""
    if session_keys:
        caches[settings.SESSION_CACHE_ALIAS].delete_many([KEY_PREFIX + key for key in session_keys])


class SessionStore(CachedDatabaseSessionStore):
    @classmethod
    def get_model_class(cls) -> Any:
        # SESSION_ENGINE is imported before the app registry is ready: the model only when first used.
        from .models import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        session: Any = super().create_model_instance(data)
        try:
            session.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            session.user_id = None
        return session
