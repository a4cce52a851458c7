"""Request helpers shared by the HTTP routes."""

from __future__ import annotations

import hmac

from fastapi import Request

# The one origin rule lives in api/origin.py; the routes import it from here.
from youworker.api.origin import require_same_origin as require_same_origin
from youworker.db import session_scope
from youworker.models import User
from youworker.services import api_keys, sessions
from youworker.services.audit import RequestContext
from youworker.settings import get_settings


def request_context(request: Request) -> RequestContext:
    return RequestContext(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def is_root_key(candidate: str | None) -> bool:
    if not candidate:
        return False
    expected = get_settings().secret("root_api_key")
    return hmac.compare_digest(candidate.encode(), expected.encode())


async def current_user(request: Request) -> User | None:
    """The user behind the session cookie or a personal API key, if any."""
    settings = get_settings()
    async with session_scope() as db:
        token = bearer_token(request)
        if token and token.startswith(api_keys.KEY_PREFIX):
            return await api_keys.resolve(db, token)
        found = await sessions.resolve(
            db, request.cookies.get(sessions.COOKIE_NAME), settings.security.session_ttl
        )
        return found.user if found else None
