"""Admin: MCP servers and which tools the agent may use."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import mcp_env, tools_admin
from youworker.services.errors import Forbidden, ServiceError, ValidationFailed
from youworker.services.runtime import get_config_sync, get_mcp_manager, get_tool_registry
from youworker.state.guards import AdminPage, parse_id, site_admin, site_admin_view
from youworker.state.session import SessionState


@dataclasses.dataclass
class ServerRow:
    id: str = ""
    name: str = ""
    transport: str = ""
    target: str = ""
    env: str = ""  # variable names only, values masked
    enabled: bool = True
    status: str = ""
    error: str = ""
    tool_count: int = 0


@dataclasses.dataclass
class ToolRow:
    name: str = ""
    source: str = ""
    description: str = ""
    enabled: bool = True


def _parse_env(raw: str) -> dict[str, str] | None:
    """KEY=VALUE per line; None when a line has no '='."""
    env: dict[str, str] = {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            return None
        env[key.strip()] = value
    return env


class AdminToolsState(AdminPage, SessionState):
    servers: list[ServerRow] = []
    tools: list[ToolRow] = []
    form_errors: dict[str, str] = {}
    transport: str = "stdio"
    # SECURITY__ALLOW_STDIO_MCP_SERVERS: off, the form offers HTTP servers only.
    stdio_allowed: bool = False
    deleting_id: str = ""
    deleting_name: str = ""

    def _forget_page(self) -> None:
        self.servers, self.tools = [], []
        self.deleting_id = self.deleting_name = ""

    async def _reload(self, actor: User) -> None:
        # This worker may not have seen a change made through another worker yet.
        await get_config_sync().current()
        statuses = {s.name: s for s in get_mcp_manager().status()}
        async with session_scope() as db:
            servers = await tools_admin.list_servers(db, actor)
            await get_tool_registry().load_settings(db)
        rows = []
        for server in servers:
            status = statuses.get(server.name)
            target = server.url or " ".join([server.command or "", *server.args]).strip()
            rows.append(
                ServerRow(
                    id=str(server.id),
                    name=server.name,
                    transport=server.transport,
                    target=target[:200],
                    env=mcp_env.masked_env(server),
                    enabled=server.enabled,
                    status=(status.status if status else server.last_status or "unknown")
                    if server.enabled
                    else "disabled",
                    error=(status.error if status else server.last_error) or "",
                    tool_count=len(status.tools) if status else 0,
                )
            )
        self.servers = rows
        registry = get_tool_registry()
        self.tools = [
            ToolRow(
                name=tool.name,
                source=tool.source,
                description=tool.spec.description[:160],
                enabled=registry.is_enabled(tool.name),
            )
            for tool in sorted(registry.tools(), key=lambda t: (t.source != "builtin", t.name))
        ]

    @rx.event
    @site_admin_view
    async def load(self, actor: User) -> None:
        self.form_errors = {}
        self.stdio_allowed = tools_admin.stdio_allowed()
        if not self.stdio_allowed:
            self.transport = "http"
        await self._reload(actor)

    @rx.event
    def set_transport(self, transport: str) -> None:
        self.transport = transport if transport in ("stdio", "http") else "stdio"

    @rx.event
    @site_admin
    async def add_server(self, actor: User, form: dict[str, str]) -> EventSpec | None:
        self.form_errors = {}
        env = _parse_env(str(form.get("env", "")))
        if env is None:
            self.form_errors = {"env": "Write one KEY=VALUE per line."}
            return None
        args = [line.strip() for line in str(form.get("args", "")).splitlines() if line.strip()]
        try:
            async with session_scope() as db:
                await tools_admin.create_server(
                    db,
                    actor,
                    name=str(form.get("name", "")).strip(),
                    transport=self.transport,
                    command=str(form.get("command", "")).strip() or None,
                    args=args,
                    env=env,
                    url=str(form.get("url", "")).strip() or None,
                    confirm_password=str(form.get("confirm_password", "")) or None,
                    context=self._context(),
                )
        except ValidationFailed as exc:
            self.form_errors = exc.fields
            return None
        except Forbidden as exc:
            self.form_errors = {"transport": exc.message}
            return None
        except ServiceError as exc:
            self.form_errors = {"name": exc.message}
            return None
        await get_mcp_manager().refresh()
        await get_config_sync().changed()
        await self._reload(actor)
        return rx.toast.success("MCP server added.")

    @rx.event
    @site_admin
    async def set_server_enabled(
        self, actor: User, server_id: str, enabled: bool
    ) -> EventSpec | None:
        try:
            async with session_scope() as db:
                await tools_admin.update_server(
                    db,
                    actor,
                    parse_id(server_id, "MCP server not found."),
                    enabled=enabled,
                    context=self._context(),
                )
        except ServiceError:
            return rx.toast.error("MCP server not found.")
        await get_mcp_manager().refresh()
        await get_config_sync().changed()
        await self._reload(actor)
        return None

    @rx.event
    def ask_delete(self, server_id: str, name: str) -> None:
        self.deleting_id, self.deleting_name = server_id, name

    @rx.event
    def cancel_delete(self) -> None:
        self.deleting_id = self.deleting_name = ""

    @rx.event
    @site_admin
    async def confirm_delete(self, actor: User) -> EventSpec | None:
        target, self.deleting_id = self.deleting_id, ""
        try:
            async with session_scope() as db:
                server_id = parse_id(target, "MCP server not found.")
                await tools_admin.delete_server(db, actor, server_id, self._context())
        except ServiceError:
            return rx.toast.error("MCP server not found.")
        await get_mcp_manager().refresh()
        await get_config_sync().changed()
        await self._reload(actor)
        return rx.toast.success("MCP server removed.")

    @rx.event
    @site_admin
    async def set_tool_enabled(self, actor: User, name: str, enabled: bool) -> EventSpec | None:
        try:
            async with session_scope() as db:
                await tools_admin.set_tool_enabled(db, actor, name, enabled, self._context())
                await get_tool_registry().load_settings(db)
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        await get_config_sync().changed()
        await self._reload(actor)
        return None

    @rx.event
    @site_admin
    async def refresh_servers(self, actor: User) -> EventSpec | None:
        await get_mcp_manager().refresh()
        await self._reload(actor)
        return rx.toast.success("MCP servers checked.")
