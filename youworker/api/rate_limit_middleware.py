"""Requests to the REST API per caller: over the limit, 429 with Retry-After before any work.

The caller is the user a JWT we signed names (a new token is no new budget), or a credential this
process has verified (an API key or session cookie, only ever hashed: api/verified_credentials.py),
or else the client address: until a credential is verified it counts for the address it came
from, so made-up tokens get no fresh budgets. Pure ASGI: streamed answers pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import jwt
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from youworker.api.credentials import cookies
from youworker.api.verified_credentials import VerifiedCredentials, verified_credentials
from youworker.services import access_tokens
from youworker.services.errors import RateLimited
from youworker.services.rate_limits import RateLimits, get_rate_limits
from youworker.services.sessions import COOKIE_NAME as SESSION_COOKIE
from youworker.settings import get_settings

LIMITED_PREFIXES = ("/api/", "/health/detailed")


def is_limited(path: str) -> bool:
    return path == "/api" or path.startswith(LIMITED_PREFIXES)


def caller_of(scope: Scope, verified: VerifiedCredentials = verified_credentials) -> str:
    """What the limit counts against: a verified caller, else the client address."""
    headers = Headers(scope=scope)
    authorization = headers.get("authorization", "")
    bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
    presented = bearer or (headers.get("x-api-key") or "").strip()
    if presented and access_tokens.looks_like_jwt(presented):
        # A JWT we did not sign counts for its address (and is refused further in).
        subject = jwt_subject(presented)
        if subject:
            return "user:" + subject
    elif presented:
        if verified.knows(presented):
            return "credential:" + presented
    elif (session := cookies(scope).get(SESSION_COOKIE)) and verified.knows(session):
        return "credential:" + session
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


def jwt_subject(token: str) -> str | None:
    """The user id in a JWT signed by us (expiry and password are checked where it is used)."""
    try:
        claims = jwt.decode(
            token,
            get_settings().secret("jwt_secret"),
            algorithms=[access_tokens.ALGORITHM],
            audience=access_tokens.AUDIENCE,
            issuer=access_tokens.ISSUER,
            options={"verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    return str(subject) if subject else None


class ApiRateLimit:
    """RATE_LIMIT__API_PER_KEY over `/api/*` and `/health/detailed`."""

    def __init__(self, app: ASGIApp, *, limits: Callable[[], RateLimits] = get_rate_limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # CORS preflights carry no credentials and are answered cheaply further in.
        if (
            scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or not is_limited(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        try:
            await self.limits().check_api(caller_of(scope))
        except RateLimited as exc:
            response = JSONResponse(
                {"error": {"code": exc.code, "message": exc.message}},
                status_code=429,
                headers={"Retry-After": str(exc.retry_after_seconds)},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
