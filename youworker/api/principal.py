"""Who is calling: the one principal dependency of every authenticated HTTP route.

Accepted, in this order: a bearer token or `X-API-Key` (a personal `yw_` key, the root key, or a
JWT from POST /api/v1/token), else the browser's session cookie. A token that is present but
wrong fails outright; it never falls back to the cookie. Every root-key use is audited
(services/root_access.py). Failed credentials count per client address: over
RATE_LIMIT__API_AUTH_FAILURES_PER_IP, no credential from that address is even checked until the
window has room again (429), so guessing keys costs the guesser, not the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.api.deps import request_context
from youworker.api.verified_credentials import verified_credentials
from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.models import User
from youworker.services import access_tokens, api_keys, root_access, sessions
from youworker.services.errors import AuthenticationFailed
from youworker.services.rate_limits import get_rate_limits
from youworker.settings import get_settings

log = get_logger(__name__)

NO_CREDENTIALS = "Authenticate with a bearer token (POST /api/v1/token) or an API key."

AuthMethod = Literal["api_key", "root_key", "jwt", "session"]

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A JWT from POST /api/v1/token, a personal API key (yw_...) or the root API key.",
)
api_key_scheme = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A personal API key or the root API key."
)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller; `user` is loaded fresh for this request."""

    user: User
    method: AuthMethod


async def get_db() -> AsyncIterator[AsyncSession]:
    async with session_scope() as db:
        yield db


# Closed when the handler returns, so a streamed answer never holds a connection.
DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]


async def _from_token(
    db: AsyncSession, token: str, request: Request
) -> tuple[AuthMethod, User | None]:
    if token.startswith(api_keys.KEY_PREFIX):
        return "api_key", await api_keys.resolve(db, token)
    if root_access.is_root_key(token):
        user = await root_access.resolve(
            db,
            token,
            method=request.method,
            path=request.url.path,
            context=request_context(request),
        )
        return "root_key", user
    return "jwt", await access_tokens.resolve(db, token)


async def _identify(
    db: AsyncSession, request: Request, token: str, cookie: str
) -> tuple[AuthMethod, User | None]:
    if token:
        return await _from_token(db, token, request)
    found = await sessions.resolve(db, cookie, get_settings().security.session_ttl)
    return "session", found.user if found else None


async def get_principal(
    request: Request,
    db: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    header_key: Annotated[str | None, Security(api_key_scheme)],
) -> Principal:
    token = bearer.credentials.strip() if bearer else (header_key or "").strip()
    cookie = request.cookies.get(sessions.COOKIE_NAME) or ""
    if not token and not cookie:
        raise AuthenticationFailed(NO_CREDENTIALS)
    address = request_context(request).ip
    limits = get_rate_limits()
    await limits.check_auth_failures(address)
    method, user = await _identify(db, request, token, cookie)
    if user is None:
        await limits.count_auth_failure(address)
        # The kind of credential only; never the token itself.
        log.info("api.auth_failed", method=method, path=request.url.path)
        raise AuthenticationFailed(
            "Invalid, expired or revoked credentials." if token else NO_CREDENTIALS
        )
    # From now on the REST rate limit counts this credential on its own, not for its address.
    verified_credentials.remember(token or cookie)
    return Principal(user, method)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
