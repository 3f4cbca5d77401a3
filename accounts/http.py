from django.http import HttpRequest

from .models import User


class AuthenticatedRequest(HttpRequest):
    """The request type of a view behind login_required (for type checking)."""

    user: User
