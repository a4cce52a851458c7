"""One task per server: it owns the SDK session, lists the tools and serves calls in order."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO, TypeVar, cast

import anyio

from youworker.logging import get_logger
from youworker.models import McpTransport
from youworker.models.base import utcnow
from youworker.models.tool import TOOL_NAME_MAX
from youworker.services.llm.base import ToolSpec
from youworker.services.tools.base import Tool, ToolContext, ToolError, ToolHandler

# The MCP SDK (~13 MB resident) is imported where a server is connected or answers, so a
# backend without MCP servers never loads it.
if TYPE_CHECKING:
    from mcp import Client, types
    from mcp.client.session import IncomingMessage

from youworker.services.mcp.config import (
    CLIENT_NAME,
    CLIENT_VERSION,
    DESCRIPTION_MAX,
    LIST_PAGES_MAX,
    STOP_TIMEOUT_S,
    ServerConfig,
    ServerState,
    ServerStatus,
    namespaced_name,
    result_text,
    tool_parameters,
)
from youworker.services.mcp.errors import (
    WatchedReadStream,
    describe,
    stderr_file,
    trim_stderr,
    with_tail,
)

log = get_logger(__name__)

_T = TypeVar("_T")


@dataclass
class _Request:
    """Work for the worker task: run `operation` on the live client, answer through `future`."""

    operation: Callable[[Client], Awaitable[Any]]
    future: asyncio.Future[Any]
    timeout_s: float
    label: str


async def _list_tools(client: Client) -> list[types.Tool]:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(LIST_PAGES_MAX):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


class ServerWorker:
    """One connection attempt to one server, owned by one task from connect to close."""

    def __init__(
        self,
        config: ServerConfig,
        caller: Callable[[str, str, dict[str, Any]], Awaitable[str]],
        *,
        connect_timeout_s: float,
        list_timeout_s: float,
        call_timeout_s: float,
        mode: str,
    ) -> None:
        self.config = config
        self.status: ServerState = "connecting"
        self.error: str | None = None
        self.tools: list[Tool] = []
        self.checked_at: datetime | None = None
        self.started_at = time.monotonic()
        self._caller = caller
        self._connect_timeout_s = connect_timeout_s
        self._list_timeout_s = list_timeout_s
        self._call_timeout_s = call_timeout_s
        self._mode = mode
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._ready = asyncio.Event()
        self._ended = asyncio.Event()
        self._relist_wanted = asyncio.Event()
        self._scope: anyio.CancelScope | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._errlog: TextIO | None = None

    @property
    def name(self) -> str:
        return self.config.name

    def snapshot(self) -> ServerStatus:
        return ServerStatus(
            name=self.name,
            status=self.status,
            error=self.error,
            tools=tuple(tool.name for tool in self.tools),
            checked_at=self.checked_at,
        )

    # --- state ----------------------------------------------------------------------------

    def _set(self, status: ServerState, error: str | None = None) -> None:
        self.status, self.error, self.checked_at = status, error, utcnow()
        if status != "ok":
            self.tools = []
        if status == "error":
            log.warning("mcp_server_error", server=self.name, error=error)
        else:
            log.info("mcp_server_status", server=self.name, status=status, tools=len(self.tools))
        self._ready.set()

    def _adopt_tools(self, remote: list[types.Tool]) -> None:
        built: list[Tool] = []
        seen: set[str] = set()
        for item in remote:
            name = namespaced_name(self.name, item.name)
            suffix = 2
            while name in seen:
                # Two remote names that sanitize alike still get distinct local names.
                tail = f"_{suffix}"
                name = namespaced_name(self.name, item.name)[: TOOL_NAME_MAX - len(tail)] + tail
                suffix += 1
            seen.add(name)
            description = (item.description or item.title or f"{item.name} (MCP)").strip()
            spec = ToolSpec(
                name=name,
                description=description[:DESCRIPTION_MAX],
                parameters=tool_parameters(item.input_schema),
            )
            built.append(
                Tool(spec=spec, handler=self._handler(item.name), source=f"mcp:{self.name}")
            )
        self.tools = built

    def _handler(self, remote_name: str) -> ToolHandler:
        server, caller = self.name, self._caller

        async def handler(arguments: dict[str, Any], ctx: ToolContext) -> str:
            # Routed through the manager, so a tool keeps working after a reconnect.
            return await caller(server, remote_name, arguments)

        return handler

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and list the tools; returns when the server is ok or has failed."""
        self._task = asyncio.create_task(self._run(), name=f"mcp-server:{self.name}")
        limit = self._connect_timeout_s + self._list_timeout_s + STOP_TIMEOUT_S
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=limit)
        except TimeoutError:
            self._set("error", f"The server did not start within {limit:g} seconds.")
            await self.stop()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def stop(self) -> None:
        """Close the session (and the server process) and wait for the task to end."""
        self._stopping = True
        if self.status in ("connecting", "ok"):
            self._set("stopped")
        if self._scope is not None:
            self._scope.cancel()
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("mcp_server_stop_slow", server=self.name)
            task.cancel()

    async def _run(self) -> None:
        if self._stopping:
            return
        from mcp import Client, types

        phase = "connecting"
        failure: Exception | None = None
        scope = anyio.CancelScope(deadline=anyio.current_time() + self._connect_timeout_s)
        self._scope = scope
        try:
            with scope:
                if self.config.transport == McpTransport.STDIO:
                    self._errlog = stderr_file()
                async with Client(
                    cast(Any, self._transport()),
                    mode=self._mode,
                    cache=None,
                    client_info=types.Implementation(name=CLIENT_NAME, version=CLIENT_VERSION),
                    message_handler=self._on_message,
                ) as client:
                    phase = "listing tools"
                    scope.deadline = anyio.current_time() + self._list_timeout_s
                    self._adopt_tools(await _list_tools(client))
                    scope.deadline = math.inf
                    self._set("ok")
                    await self._serve(client)
        except Exception as exc:
            failure = exc
        finally:
            if not self._stopping and self.status != "error":
                if scope.cancel_called:
                    # Only our deadline cancels this scope when we are not stopping.
                    timeout = (
                        self._connect_timeout_s if phase == "connecting" else self._list_timeout_s
                    )
                    message = f"No answer within {timeout:g} seconds while {phase}."
                elif failure is not None:
                    message = describe(failure, self.config)
                else:
                    message = "The connection ended."
                self._set("error", with_tail(message, self._errlog))
            elif self.status in ("connecting", "ok"):
                self._set("stopped")
            self._fail_pending()
            if self._errlog is not None:
                self._errlog.close()

    @asynccontextmanager
    async def _transport(self) -> AsyncIterator[tuple[WatchedReadStream, Any]]:
        from mcp import StdioServerParameters
        from mcp.client.stdio import stdio_client
        from mcp.client.streamable_http import streamable_http_client

        config = self.config
        inner: AbstractAsyncContextManager[tuple[Any, Any]]
        if config.transport == McpTransport.STDIO:
            parameters = StdioServerParameters(
                command=config.command or "", args=list(config.args), env=dict(config.env) or None
            )
            assert self._errlog is not None
            inner = stdio_client(parameters, errlog=self._errlog)
        else:
            inner = streamable_http_client(config.url or "")
        async with inner as (read_stream, write_stream):
            yield WatchedReadStream(read_stream, self._ended), write_stream

    async def _on_message(self, message: IncomingMessage) -> None:
        from mcp import types

        if isinstance(message, types.ToolListChangedNotification):
            self._relist_wanted.set()

    async def _serve(self, client: Client) -> None:
        async with anyio.create_task_group() as group:

            async def watch_end() -> None:
                await self._ended.wait()
                if not self._stopping:
                    message = "The server exited or closed the connection."
                    self._set("error", with_tail(message, self._errlog))
                group.cancel_scope.cancel()

            async def watch_relist() -> None:
                while True:
                    await self._relist_wanted.wait()
                    self._relist_wanted.clear()
                    try:
                        with anyio.fail_after(self._list_timeout_s):
                            self._adopt_tools(await _list_tools(client))
                    except Exception as exc:
                        log.warning("mcp_relist_failed", server=self.name, error=str(exc))

            group.start_soon(watch_end)
            group.start_soon(watch_relist)
            while True:
                request = await self._queue.get()
                group.start_soon(self._handle, client, request)

    async def _handle(self, client: Client, request: _Request) -> None:
        from mcp import types
        from mcp.shared.exceptions import MCPError

        future = request.future
        if future.done():
            return
        with anyio.CancelScope() as scope:

            def abandoned(done: asyncio.Future[Any]) -> None:
                # The caller gave up (its own timeout or cancellation): stop the remote call.
                if done.cancelled():
                    scope.cancel()

            future.add_done_callback(abandoned)
            try:
                with anyio.fail_after(request.timeout_s):
                    result = await request.operation(client)
            except TimeoutError:
                _settle(
                    future,
                    error=ToolError(
                        f"{request.label} got no answer within {request.timeout_s:g} seconds."
                    ),
                )
            except MCPError as exc:
                if exc.code == types.CONNECTION_CLOSED:
                    self._ended.set()
                    message = f"MCP server {self.name!r} went away during {request.label}."
                else:
                    message = f"MCP server {self.name!r} refused {request.label}: {exc.message}"
                _settle(future, error=ToolError(message))
            except Exception as exc:
                log.warning("mcp_call_failed", server=self.name, error=describe(exc, self.config))
                _settle(
                    future,
                    error=ToolError(f"{request.label} failed: {describe(exc, self.config)}"),
                )
            else:
                _settle(future, result=result)
                trim_stderr(self._errlog)
            finally:
                # Still open here means the connection was torn down under the call.
                why = "was stopped" if self._stopping else "lost the connection"
                _settle(
                    future,
                    error=ToolError(f"MCP server {self.name!r} {why} before answering."),
                )

    def _fail_pending(self) -> None:
        while not self._queue.empty():
            request = self._queue.get_nowait()
            reason = self.error or "it stopped"
            _settle(request.future, error=ToolError(f"MCP server {self.name!r}: {reason}"))

    # --- requests -------------------------------------------------------------------------

    async def submit(
        self, operation: Callable[[Client], Awaitable[_T]], label: str, timeout_s: float
    ) -> _T:
        """Run `operation` in the worker task; cancelling the caller cancels the operation."""
        if self.status != "ok":
            raise ToolError(f"MCP server {self.name!r} is unavailable: {self.error or 'stopped'}")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Request(operation, future, timeout_s, label))
        return cast(_T, await future)

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> str:
        result = await self.submit(
            lambda client: client.call_tool(tool, arguments),
            f"the call to {tool!r}",
            self._call_timeout_s,
        )
        return result_text(result)

    async def relist(self) -> None:
        remote = await self.submit(_list_tools, "listing tools", self._list_timeout_s)
        self._adopt_tools(remote)


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
