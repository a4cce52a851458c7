"""ASGI middleware around the whole backend (REST routes, the `/_event` websocket, uploads, pages).

Reflex applies `api_transformer` entries in order, each wrapping what came before, so the last
entry of this list sees a request first.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp


def asgi_middleware() -> list[Callable[[ASGIApp], ASGIApp]]:
    """The middleware stack, innermost first."""
    return []
