"""ASGI middleware around the whole backend (REST routes, the `/_event` websocket, uploads, pages).

Reflex applies `api_transformer` entries in order, each wrapping what came before, so the last
entry of this list sees a request first. All of it is pure ASGI: it sees websockets and never
buffers a streamed response.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from socketio import AsyncServer
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from youworker.api.body_limit import BodyLimit
from youworker.api.client_address import TrustedProxyHeaders
from youworker.api.csrf import CsrfGuard
from youworker.api.ip_allowlist import IPAllowlist
from youworker.api.origin import OriginGuard, allowed_origins, socketio_origins
from youworker.api.rate_limit_middleware import ApiRateLimit
from youworker.api.security_headers import SecurityHeaders
from youworker.api.upload_guard import TabOwnerLookup, UploadGuard
from youworker.settings import Settings, get_settings

Middleware = Callable[[ASGIApp], ASGIApp]

CORS_HEADERS = ["Authorization", "Content-Type", "X-API-Key", "X-CSRF-Token"]


def asgi_middleware(
    settings: Settings | None = None, tab_owner: TabOwnerLookup | None = None
) -> list[Middleware]:
    """The middleware stack, innermost first. With `tab_owner`, `/_upload` needs the session
    cookie of the user the uploading tab belongs to."""
    settings = settings or get_settings()
    security = settings.security
    upload_guard = [partial(UploadGuard, tab_owner=tab_owner)] if tab_owner is not None else []
    return [
        # Innermost: counts the bytes the app actually reads.
        partial(
            BodyLimit,
            max_bytes=security.max_request_bytes,
            max_upload_bytes=settings.documents.max_upload_bytes,
            max_batch_bytes=settings.documents.max_batch_bytes,
        ),
        *upload_guard,
        CsrfGuard,
        partial(OriginGuard, allowed_origins=allowed_origins(settings)),
        # Reflex adds its own CORSMiddleware outside ours with the same list (rxconfig.py).
        partial(
            CORSMiddleware,
            allow_origins=list(security.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_HEADERS,
            expose_headers=["Retry-After"],
        ),
        # Rate limits go here: inside the IP allow-list (strangers never count), outside the
        # checks above (a flood of refused requests is still a flood).
        ApiRateLimit,
        partial(IPAllowlist, networks=security.ip_networks, scope=security.ip_allowlist_scope),
        partial(TrustedProxyHeaders, trusted=security.proxy_networks),
        # Outermost: every response gets the headers, refusals included.
        SecurityHeaders,
    ]


def guard_socketio(sio: AsyncServer | None, settings: Settings | None = None) -> None:
    """Make socket.io apply our origin rule to its websocket as well.

    Reflex hands socket.io the CORS list from rxconfig; with a non-empty list socket.io would
    refuse our own pages (their origin is this host, not on the list), with an empty one it
    checks nothing. Its hook takes a callable: ours.
    """
    if sio is not None:
        sio.eio.cors_allowed_origins = socketio_origins(allowed_origins(settings or get_settings()))
