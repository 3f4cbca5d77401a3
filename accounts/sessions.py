"""The session store: Django's database sessions, each row stored with the id of its signed-in user.

``SESSION_ENGINE = "accounts.sessions"``. Every save writes the user id beside the session (so a new key after
sign-in or a password change is indexed too), and :func:`accounts.services.user_sessions_end` ends every session
of an account with one DELETE.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore


class SessionStore(DatabaseSessionStore):
    @classmethod
    def get_model_class(cls) -> Any:
        from .models import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        session: Any = super().create_model_instance(data)
        try:
            session.user_id = int(data[SESSION_KEY])
        except (KeyError, TypeError, ValueError):
            session.user_id = None
        return session
