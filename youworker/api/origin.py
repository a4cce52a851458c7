"""The one origin rule: a browser request must come from this host or an allow-listed origin.

Applied by `OriginGuard` to every websocket (the `/_event` upgrade included: cross-site websocket
hijacking) and to every state-changing HTTP request that is not an API client's, by
`require_same_origin` to the sign-in cookie routes, and by socket.io itself (`socketio_origins`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from youworker.api.credentials import UNSAFE_METHODS, has_session_cookie, is_api_client
from youworker.api.refusal import refuse
from youworker.logging import get_logger
from youworker.settings import Settings, get_settings, normalize_origin

log = get_logger(__name__)

EVENT_PATH = "/_event"


def _url_origin(url: str) -> str | None:
    """The origin of a full URL (a Referer), path dropped."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return normalize_origin(f"{parts.scheme}://{parts.netloc}") if parts.netloc else None


def request_origin(headers: Headers) -> str | None:
    """The normalised Origin, else the Referer's origin; `""` when the browser sent neither.

    None means a header was sent but is no usable origin (`Origin: null` from a sandboxed frame,
    garbage): that never passes.
    """
    if "origin" in headers:
        return normalize_origin(headers["origin"])
    if "referer" in headers:
        return _url_origin(headers["referer"])
    return ""


def origin_allowed(origin: str | None, host: str | None, allowed: Collection[str]) -> bool:
    """Same host as the Host header (any scheme: TLS may end at a proxy), or allow-listed."""
    if not origin:
        return False
    if origin in allowed:
        return True
    if not host:
        return False
    scheme = origin.split("://", 1)[0]
    return normalize_origin(f"{scheme}://{host}") == origin


def allowed_origins(settings: Settings) -> tuple[str, ...]:
    """SECURITY__CORS_ALLOWED_ORIGINS plus API__PUBLIC_URL's origin.

    The public address counts as "this host" even when a proxy hands us another Host header.
    """
    public = normalize_origin(settings.api.public_url) if settings.api.public_url else None
    return (*settings.security.cors_origins, *([public] if public else []))


def require_same_origin(request: Request) -> None:
    """Route dependency for the sign-in cookie routes: an Origin or Referer is mandatory there."""
    origin = request_origin(request.headers)
    if origin == "":
        raise HTTPException(status_code=403, detail="missing Origin header")
    if not origin_allowed(origin, request.headers.get("host"), allowed_origins(get_settings())):
        raise HTTPException(status_code=403, detail="cross-site request refused")


def socketio_origins(allowed: Collection[str]) -> Callable[[str, Mapping[str, Any]], bool]:
    """engine.io's `cors_allowed_origins` hook: the same rule, applied once more by socket.io."""

    def check(origin: str, environ: Mapping[str, Any]) -> bool:
        return origin_allowed(normalize_origin(origin), environ.get("HTTP_HOST"), allowed)

    return check


class OriginGuard:
    """Refuse cross-site websockets and cross-site state changes before the app sees them."""

    def __init__(self, app: ASGIApp, *, allowed_origins: Collection[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)

    def _needs_check(self, scope: Scope, origin: str | None) -> bool:
        if scope["type"] == "websocket":
            # Browsers always send Origin on a websocket; a client without one is no browser
            # and cannot ride a victim's cookies.
            return origin != ""
        if scope["method"] not in UNSAFE_METHODS:
            # socket.io's HTTP long-polling is the same channel as its websocket.
            return scope["path"].startswith(EVENT_PATH) and origin != ""
        if is_api_client(scope):
            return False
        # A request with a session cookie must say where it comes from; one without a cookie
        # (a program signing in) is only refused when it names a foreign origin.
        return origin != "" or has_session_cookie(scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = request_origin(headers)
        if self._needs_check(scope, origin) and not origin_allowed(
            origin, headers.get("host"), self.allowed
        ):
            client = scope.get("client")
            log.warning(
                "origin_refused",
                path=scope["path"],
                method=scope.get("method", "WEBSOCKET"),
                origin=headers.get("origin") or headers.get("referer") or "",
                host=headers.get("host", ""),
                ip=client[0] if client else None,
            )
            message = "missing Origin header" if origin == "" else "cross-site request refused"
            await refuse(scope, receive, send, status=403, code="forbidden", message=message)
            return
        await self.app(scope, receive, send)
