"""MCP servers as tool sources: one long-lived task per server owns its session and serves calls.

The SDK's context managers (stdio process, HTTP session, ClientSession) must be entered and
exited in the same task, so each server gets a worker task that connects, lists the tools and
then serves requests from a queue until it is stopped or the server goes away. A server that
fails never raises out of the manager: it gets status "error" and its tools disappear.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TextIO, TypeVar, cast

import anyio
from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker import db
from youworker.logging import get_logger
from youworker.models import McpServer, McpTransport
from youworker.models.base import utcnow
from youworker.models.tool import STATUS_ERROR_MAX, TOOL_NAME_MAX
from youworker.services.llm.base import ToolSpec
from youworker.services.mcp_env import server_env
from youworker.services.tools.base import Tool, ToolContext, ToolError, ToolHandler

# The MCP SDK (~13 MB resident) is imported where a server is connected or answers, so a
# backend without MCP servers never loads it.
if TYPE_CHECKING:
    from mcp import Client, types
    from mcp.client.session import IncomingMessage
    from mcp.shared.message import SessionMessage

log = get_logger(__name__)

ServerState = Literal["connecting", "ok", "error", "stopped"]
SessionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]

CONNECT_TIMEOUT_S = 20.0
LIST_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 120.0
RETRY_AFTER_S = 30.0  # a failed server is retried on use at most this often
STOP_TIMEOUT_S = 10.0  # the SDK's own stdio shutdown is bounded at ~6 s
LIST_PAGES_MAX = 50
DESCRIPTION_MAX = 1024
STDERR_TAIL_CHARS = 300
STDERR_FILE_MAX = 1_000_000
NAME_SEPARATOR = "__"
CLIENT_NAME = "youworker"
CLIENT_VERSION = "0.1.0"

_UNSAFE_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_-]+")
_T = TypeVar("_T")


@dataclass(frozen=True)
class ServerConfig:
    """How to reach one server; `env` may hold secrets, so it is kept out of reprs."""

    name: str
    transport: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    url: str | None = None
    id: uuid.UUID | None = field(default=None, compare=False)

    @classmethod
    def from_model(cls, server: McpServer) -> ServerConfig:
        return cls(
            name=server.name,
            transport=server.transport,
            command=server.command,
            args=tuple(server.args or ()),
            env=server_env(server),
            url=server.url,
            id=server.id,
        )


@dataclass(frozen=True)
class ServerStatus:
    """What the admin page shows for one server."""

    name: str
    status: ServerState
    error: str | None = None
    tools: tuple[str, ...] = ()
    checked_at: datetime | None = None


def namespaced_name(server: str, tool: str) -> str:
    """`<server>__<tool>`, reduced to the characters and length Ollama accepts."""
    cleaned = _UNSAFE_NAME_CHARS.sub("_", tool).strip("_") or "tool"
    return f"{server}{NAME_SEPARATOR}{cleaned}"[:TOOL_NAME_MAX]


def tool_parameters(schema: Any) -> dict[str, Any]:
    """An MCP inputSchema as ToolSpec parameters: always an object schema with properties."""
    parameters = dict(schema) if isinstance(schema, dict) else {}
    parameters["type"] = "object"
    if not isinstance(parameters.get("properties"), dict):
        parameters["properties"] = {}
    return parameters


def result_text(result: types.CallToolResult) -> str:
    """Join the text blocks of a tool result; an error result becomes a ToolError."""
    from mcp import types

    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.EmbeddedResource) and isinstance(
            block.resource, types.TextResourceContents
        ):
            parts.append(block.resource.text)
        elif isinstance(block, types.ResourceLink):
            parts.append(f"[resource: {block.uri}]")
        else:
            parts.append(f"[{block.type} content omitted]")
    text = "\n".join(parts)
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False, default=str)
    if result.is_error:
        raise ToolError(text or "The tool reported an error without a message.")
    return text


def _leaf(exc: BaseException) -> BaseException:
    # Task groups wrap the real cause; the first leaf is the one worth showing.
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException, config: ServerConfig) -> str:
    from mcp import types
    from mcp.shared.exceptions import MCPError

    leaf = _leaf(exc)
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


def _stderr_file() -> TextIO:
    # The server's stderr goes to a private file: it explains crashes, and keeps our logs clean.
    return tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")


def _stderr_tail(errlog: TextIO | None) -> str:
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


def _trim_stderr(errlog: TextIO | None) -> None:
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


def _with_tail(message: str, errlog: TextIO | None) -> str:
    tail = _stderr_tail(errlog)
    text = f"{message} Server output: {tail}" if tail else message
    return text[:STATUS_ERROR_MAX]


class _WatchedReadStream:
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

    def __aiter__(self) -> _WatchedReadStream:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> _WatchedReadStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self.aclose()


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


class _ServerWorker:
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
                    self._errlog = _stderr_file()
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
                    message = _describe(failure, self.config)
                else:
                    message = "The connection ended."
                self._set("error", _with_tail(message, self._errlog))
            elif self.status in ("connecting", "ok"):
                self._set("stopped")
            self._fail_pending()
            if self._errlog is not None:
                self._errlog.close()

    @asynccontextmanager
    async def _transport(self) -> AsyncIterator[tuple[_WatchedReadStream, Any]]:
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
            yield _WatchedReadStream(read_stream, self._ended), write_stream

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
                    self._set("error", _with_tail(message, self._errlog))
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
                log.warning("mcp_call_failed", server=self.name, error=_describe(exc, self.config))
                _settle(
                    future,
                    error=ToolError(f"{request.label} failed: {_describe(exc, self.config)}"),
                )
            else:
                _settle(future, result=result)
                _trim_stderr(self._errlog)
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


class McpManager:
    """Every configured MCP server, its status and its tools."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        list_timeout_s: float = LIST_TIMEOUT_S,
        call_timeout_s: float = CALL_TIMEOUT_S,
        retry_after_s: float = RETRY_AFTER_S,
        mode: str = "auto",
    ) -> None:
        self._session_factory: SessionFactory = session_factory or db.session_scope
        self._connect_timeout_s = connect_timeout_s
        self._list_timeout_s = list_timeout_s
        self._call_timeout_s = call_timeout_s
        self._retry_after_s = retry_after_s
        self._mode = mode
        self._workers: dict[str, _ServerWorker] = {}
        self._lock = asyncio.Lock()
        self._startup: asyncio.Task[None] | None = None

    def _new_worker(self, config: ServerConfig) -> _ServerWorker:
        return _ServerWorker(
            config,
            self.call,
            connect_timeout_s=self._connect_timeout_s,
            list_timeout_s=self._list_timeout_s,
            call_timeout_s=self._call_timeout_s,
            mode=self._mode,
        )

    # --- configuration --------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the configured servers in the background: app start never waits on them."""
        if self._startup is None or self._startup.done():
            self._startup = asyncio.create_task(self._refresh_logged(), name="mcp-startup")

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except Exception:
            log.exception("mcp_startup_failed")

    async def refresh(self) -> list[ServerStatus]:
        """Reload the servers from the database, (re)connect as needed and store each status."""
        async with self._session_factory() as session:
            servers = list(await session.scalars(select(McpServer).order_by(col(McpServer.name))))
        await self.sync([ServerConfig.from_model(s) for s in servers if s.enabled])
        await self._store_statuses(servers)
        return self.status()

    async def sync(self, configs: Sequence[ServerConfig]) -> list[ServerStatus]:
        """Run exactly these servers: keep healthy unchanged ones, restart the rest."""
        wanted = {config.name: config for config in configs}
        async with self._lock:
            stale = [w for name, w in self._workers.items() if name not in wanted]
            starting: list[_ServerWorker] = []
            relisting: list[_ServerWorker] = []
            for name, config in wanted.items():
                current = self._workers.get(name)
                if current is not None and current.config == config and current.status == "ok":
                    relisting.append(current)
                    continue
                if current is not None:
                    stale.append(current)
                worker = self._new_worker(config)
                self._workers[name] = worker
                starting.append(worker)
            for worker in stale:
                if self._workers.get(worker.name) is worker:
                    del self._workers[worker.name]
            await asyncio.gather(*(worker.stop() for worker in stale))
            await asyncio.gather(
                *(worker.start() for worker in starting),
                *(self._relist(worker) for worker in relisting),
            )
        return self.status()

    async def _relist(self, worker: _ServerWorker) -> None:
        try:
            await worker.relist()
        except ToolError as exc:
            # The connection is still up; keep the tools we had.
            log.warning("mcp_relist_failed", server=worker.name, error=str(exc))

    async def _store_statuses(self, servers: Sequence[McpServer]) -> None:
        statuses = {status.name: status for status in self.status()}
        now = utcnow()
        try:
            async with self._session_factory() as session:
                for server in servers:
                    status = statuses.get(server.name)
                    values: dict[str, Any] = {"last_checked_at": now}
                    if status is None:
                        values.update(last_status="disabled", last_error=None)
                    else:
                        error = status.error[:STATUS_ERROR_MAX] if status.error else None
                        values.update(last_status=status.status, last_error=error)
                    await session.execute(
                        update(McpServer).where(col(McpServer.id) == server.id).values(**values)
                    )
                await session.commit()
        except SQLAlchemyError:
            log.exception("mcp_status_store_failed")

    # --- use ------------------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        """The tools of every server that is up, namespaced as `<server>__<tool>`."""
        found: list[Tool] = []
        for name in sorted(self._workers):
            worker = self._workers[name]
            if worker.status == "ok":
                found.extend(worker.tools)
        return found

    def status(self) -> list[ServerStatus]:
        return [self._workers[name].snapshot() for name in sorted(self._workers)]

    async def find_tool(self, name: str) -> Tool | None:
        """The tool called `name`, reconnecting a crashed server first; ToolError if it is down."""
        found = next((tool for tool in self.tools() if tool.name == name), None)
        if found is not None or NAME_SEPARATOR not in name:
            return found
        # Server names cannot contain the separator, so the first one ends the server name.
        server = name.split(NAME_SEPARATOR, 1)[0]
        if server not in self._workers:
            return None
        await self._usable(server)
        return next((tool for tool in self.tools() if tool.name == name), None)

    async def call(self, server: str, tool: str, arguments: dict[str, Any]) -> str:
        """Call `tool` (its name on the server) on `server`; failures raise ToolError."""
        worker = await self._usable(server)
        return await worker.call_tool(tool, arguments)

    async def _usable(self, server: str) -> _ServerWorker:
        worker = self._workers.get(server)
        if worker is None:
            raise ToolError(f"MCP server {server!r} is not configured.")
        if worker.status == "connecting":
            await worker.wait_ready()
        elif worker.status == "error" and time.monotonic() - worker.started_at >= (
            self._retry_after_s
        ):
            # Reconnect on use after a crash, but not on every call to a dead server.
            async with self._lock:
                if self._workers.get(server) is worker:
                    fresh = self._new_worker(worker.config)
                    self._workers[server] = fresh
                    await worker.stop()
                    await fresh.start()
            worker = self._workers.get(server, worker)
        if worker.status != "ok":
            raise ToolError(f"MCP server {server!r} is unavailable: {worker.error or 'stopped'}")
        return worker

    async def aclose(self) -> None:
        """Stop every server (ends their processes)."""
        startup, self._startup = self._startup, None
        if startup is not None and not startup.done():
            startup.cancel()
            await asyncio.gather(startup, return_exceptions=True)
        async with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
            await asyncio.gather(*(worker.stop() for worker in workers))
