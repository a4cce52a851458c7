"""Double-submit CSRF tokens for cookie-authenticated calls under `/api/`.

The `yw_csrf` cookie is readable by our own pages (not HttpOnly); another site can neither read
it nor set the `X-CSRF-Token` header, so a matching header proves the call came from our origin.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from youworker.api.credentials import UNSAFE_METHODS, cookies, has_session_cookie
from youworker.api.refusal import refuse
from youworker.logging import get_logger
from youworker.settings import get_settings

log = get_logger(__name__)

COOKIE_NAME = "yw_csrf"
HEADER_NAME = "x-csrf-token"
PROTECTED_PREFIX = "/api/"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, token: str) -> None:
    """The token cookie lives as long as the session cookie and is sent only to this site."""
    settings = get_settings()
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(settings.security.session_ttl.total_seconds()),
        httponly=False,  # our page reads it to echo it in the header
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )


def clear_csrf_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/")


def token_matches(scope: Scope) -> bool:
    cookie = cookies(scope).get(COOKIE_NAME, "")
    header = Headers(scope=scope).get(HEADER_NAME, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), header.encode())


class CsrfGuard:
    """Cookie-authenticated unsafe calls under /api/ must echo the `yw_csrf` cookie in a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in UNSAFE_METHODS
            and scope["path"].startswith(PROTECTED_PREFIX)
            # Bearer and API-key calls carry no session cookie: nothing for a forger to ride.
            and has_session_cookie(scope)
            and not token_matches(scope)
        ):
            client = scope.get("client")
            log.warning(
                "csrf_refused",
                path=scope["path"],
                method=scope["method"],
                origin=Headers(scope=scope).get("origin", ""),
                ip=client[0] if client else None,
            )
            await refuse(
                scope,
                receive,
                send,
                status=403,
                code="csrf_failed",
                message="missing or wrong X-CSRF-Token header (GET /auth/csrf gives the token)",
            )
            return
        await self.app(scope, receive, send)
