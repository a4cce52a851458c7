"""`/_upload` runs a Reflex handler on a tab's *stored* state: the request must be that tab's user.

An upload carries no fresh router data: Reflex runs the handler with the cookie the tab's state
remembered from its websocket. So a tab's token alone would upload as its user. This guard lets
an upload through only with a valid session cookie of the user the tab belongs to.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from youworker.api.credentials import SESSION_COOKIE, cookies
from youworker.api.refusal import refuse
from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.services import sessions
from youworker.settings import get_settings

log = get_logger(__name__)

UPLOAD_PATH = "/_upload"
DRAIN_LIMIT_BYTES = 1024 * 1024
# The user id a tab's state holds ("" for nobody), by the tab's token.
TabOwnerLookup = Callable[[str], Awaitable[str]]


async def _cookie_user(scope: Scope) -> str | None:
    token = cookies(scope).get(SESSION_COOKIE)
    if not token:
        return None
    async with session_scope() as db:
        found = await sessions.resolve(db, token, get_settings().security.session_ttl)
    return str(found.user.id) if found is not None else None


class UploadGuard:
    """Refuse uploads without a valid session cookie (401) or for another user's tab (403)."""

    def __init__(self, app: ASGIApp, *, tab_owner: TabOwnerLookup) -> None:
        self.app = app
        self.tab_owner = tab_owner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == UPLOAD_PATH:
            refusal = await self._refusal(scope)
            if refusal is not None:
                status, code, message = refusal
                # Read (and drop) a small body first: a client still sending would otherwise see
                # the connection reset instead of the answer.
                await _drain(receive, DRAIN_LIMIT_BYTES)
                await refuse(scope, receive, send, status=status, code=code, message=message)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        user_id = await _cookie_user(scope)
        if user_id is None:
            log.warning("upload_refused", reason="no_session")
            return 401, "authentication_failed", "Sign in to upload."
        token = Headers(scope=scope).get("reflex-client-token", "")
        if not token or len(token) > 128 or await self.tab_owner(token) != user_id:
            log.warning("upload_refused", reason="other_tab", user_id=user_id)
            return 403, "forbidden", "This page belongs to another session: reload it."
        return None


async def _drain(receive: Receive, limit: int) -> None:
    seen = 0
    while seen <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
