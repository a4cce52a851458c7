"""Authorization checks reused by every service."""

from __future__ import annotations

from youworker.models import User
from youworker.services.errors import AuthenticationFailed, Forbidden


def require_active(actor: User | None) -> User:
    if actor is None or not actor.is_active:
        raise AuthenticationFailed("Sign in to continue.")
    return actor


def require_site_admin(actor: User | None) -> User:
    user = require_active(actor)
    if not user.is_admin:
        raise Forbidden("Only administrators can do this.")
    return user
