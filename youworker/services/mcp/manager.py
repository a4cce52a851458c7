"""Every configured MCP server, its status and its tools, kept in step with the database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from youworker import db
from youworker.logging import get_logger
from youworker.models import McpServer
from youworker.models.base import utcnow
from youworker.models.tool import STATUS_ERROR_MAX
from youworker.services.tools.base import Tool, ToolError

# The MCP SDK (~13 MB resident) is imported where a server is connected or answers, so a
# backend without MCP servers never loads it.
if TYPE_CHECKING:
    pass

from youworker.services.mcp.config import (
    CALL_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    LIST_TIMEOUT_S,
    NAME_SEPARATOR,
    RETRY_AFTER_S,
    ServerConfig,
    ServerStatus,
    SessionFactory,
)
from youworker.services.mcp.worker import ServerWorker

log = get_logger(__name__)


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
        self._workers: dict[str, ServerWorker] = {}
        self._lock = asyncio.Lock()
        self._startup: asyncio.Task[None] | None = None

    def _new_worker(self, config: ServerConfig) -> ServerWorker:
        return ServerWorker(
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
            starting: list[ServerWorker] = []
            relisting: list[ServerWorker] = []
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

    async def _relist(self, worker: ServerWorker) -> None:
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

    async def _usable(self, server: str) -> ServerWorker:
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
