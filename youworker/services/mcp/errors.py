"""Why a server failed, in words for the admin, and the tail of its stderr that explains it."""

from __future__ import annotations

import asyncio
import os
import tempfile
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO, cast

import anyio

from youworker.models.tool import STATUS_ERROR_MAX

# The MCP SDK (~13 MB resident) is imported where a server is connected or answers, so a
# backend without MCP servers never loads it.
if TYPE_CHECKING:
    from mcp.shared.message import SessionMessage

from youworker.services.mcp.config import STDERR_FILE_MAX, STDERR_TAIL_CHARS, ServerConfig


def leaf_error(exc: BaseException) -> BaseException:
    # Task groups wrap the real cause; the first leaf is the one worth showing.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException, config: ServerConfig) -> str:
    from mcp import types
    from mcp.shared.exceptions import MCPError

    leaf = leaf_error(exc)
    if isinstance(leaf, FileNotFoundError):
        return f"Command not found: {config.command!r}."
    if isinstance(leaf, PermissionError):
        return f"Command cannot be run (permission denied): {config.command!r}."
    if isinstance(leaf, MCPError):
        if leaf.code == types.CONNECTION_CLOSED:
            return "The server closed the connection."
        return f"The server answered with an error: {leaf.message}"
    message = str(leaf).strip()
    return f"{type(leaf).__name__}: {message}" if message else type(leaf).__name__


def stderr_file() -> TextIO:
    # The server's stderr goes to a private file: it explains crashes, and keeps our logs clean.
    return tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")


def stderr_tail(errlog: TextIO | None) -> str:
    if errlog is None or errlog.closed:
        return ""
    try:
        fd = errlog.fileno()
        size = os.fstat(fd).st_size
        os.lseek(fd, max(0, size - 4096), os.SEEK_SET)
        raw = os.read(fd, 4096).decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in raw.splitlines() if line.strip()]
    tail = " | ".join(lines[-3:])
    return tail[-STDERR_TAIL_CHARS:]


def trim_stderr(errlog: TextIO | None) -> None:
    """Keep a long-running server's stderr file small; only its tail is ever read."""
    if errlog is None or errlog.closed:
        return
    try:
        fd = errlog.fileno()
        if os.fstat(fd).st_size > STDERR_FILE_MAX:
            # The child shares this file offset, so its next write lands at the new start.
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        pass


def with_tail(message: str, errlog: TextIO | None) -> str:
    tail = stderr_tail(errlog)
    text = f"{message} Server output: {tail}" if tail else message
    return text[:STATUS_ERROR_MAX]


class WatchedReadStream:
    """The transport's read stream, noting when it ends (the server exited or hung up)."""

    def __init__(self, inner: Any, ended: asyncio.Event) -> None:
        self._inner = inner
        self._ended = ended

    @property
    def last_context(self) -> Any:
        # The dispatcher reads this duck-typed attribute on context-carrying streams.
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            return cast("SessionMessage | Exception", await self._inner.receive())
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._ended.set()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> WatchedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> WatchedReadStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()
