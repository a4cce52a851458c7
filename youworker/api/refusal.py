"""Refusals from ASGI middleware: a JSON error for HTTP, close-before-accept for a websocket."""

from __future__ import annotations

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

# RFC 6455 "policy violation": the close code for a refused websocket.
WS_POLICY_VIOLATION = 1008


def wants_json(scope: Scope) -> bool:
    """API paths and non-browser clients get JSON; a page load gets a short text page."""
    path: str = scope.get("path", "")
    if path.startswith(("/api/", "/health", "/auth/", "/_")):
        return True
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    return b"text/html" not in accept


async def refuse(
    scope: Scope, receive: Receive, send: Send, *, status: int, code: str, message: str
) -> None:
    """Answer `{"error": {"code", "message"}}` (or close a websocket before accepting it)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": WS_POLICY_VIOLATION, "reason": message})
        return
    if wants_json(scope):
        response: JSONResponse | PlainTextResponse = JSONResponse(
            {"error": {"code": code, "message": message}}, status_code=status
        )
    else:
        response = PlainTextResponse(message, status_code=status)
    await response(scope, receive, send)
