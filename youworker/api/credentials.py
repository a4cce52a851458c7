"""How a request authenticates, read from raw ASGI headers (no body, no database)."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import Scope

from youworker.services.sessions import COOKIE_NAME as SESSION_COOKIE

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def cookies(scope: Scope) -> dict[str, str]:
    return cookie_parser(Headers(scope=scope).get("cookie", ""))


def has_session_cookie(scope: Scope) -> bool:
    """The browser's session cookie rides along: the request acts as a signed-in person."""
    return bool(cookies(scope).get(SESSION_COOKIE))


def is_api_client(scope: Scope) -> bool:
    """A program with its own credentials (Bearer token or X-API-Key) and no session cookie.

    Another site cannot make a browser send these headers, so such requests need no Origin or
    CSRF check; a request that also carries the session cookie is treated as a browser.
    """
    headers = Headers(scope=scope)
    has_key = headers.get("authorization", "").lower().startswith("bearer ") or bool(
        headers.get("x-api-key")
    )
    return has_key and not has_session_cookie(scope)
