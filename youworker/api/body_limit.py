"""Request body limits: Content-Length checked up front, streamed bytes counted as they arrive."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from youworker.api.refusal import refuse
from youworker.logging import get_logger

log = get_logger(__name__)

# Where people upload documents: Reflex's upload endpoint and the REST API's.
UPLOAD_PATHS = frozenset({"/_upload", "/api/v1/documents"})
# Room for multipart boundaries, part headers and small form fields around the files.
MULTIPART_OVERHEAD = 1024 * 1024


class _BodyTooLarge(Exception):
    """Raised inside the app's receive() once the body passes the limit."""


class BodyLimit:
    """Answer 413 `payload_too_large` when a request body is over its path's limit."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_upload_bytes: int, max_batch_bytes: int
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # One upload carries a batch of files; it can always carry one file of the largest size.
        self.upload_limit = max(max_upload_bytes, max_batch_bytes) + MULTIPART_OVERHEAD

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path.rstrip("/") in UPLOAD_PATHS else self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return

        received = 0
        too_large = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # whatever the app answers to the aborted read, the client gets the 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        client = scope.get("client")
        log.warning(
            "body_too_large", path=scope["path"], limit=limit, ip=client[0] if client else None
        )
        await refuse(
            scope,
            receive,
            send,
            status=413,
            code="payload_too_large",
            message=f"the request body is over the {limit / 1024 / 1024:g} MB limit",
        )
