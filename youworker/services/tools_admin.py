"""Site-admin management of MCP servers and of which tools are enabled.

A server's environment (often tokens) is stored encrypted (`McpServer.env_enc`, sealed and
opened by services/mcp_env.py), and pages show only its variable names.

A stdio server is a command this machine runs: registering one, or changing what it runs, needs
SECURITY__ALLOW_STDIO_MCP_SERVERS (off by default) and the admin's own password, checked here so
that every path (page, websocket event, any future API) asks for both. HTTP servers need neither.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.logging import get_logger
from youworker.models import McpServer, McpTransport, ToolSetting, User
from youworker.models.base import utcnow
from youworker.models.tool import COMMAND_MAX, SERVER_NAME_MAX, TOOL_NAME_MAX, URL_MAX
from youworker.services import audit
from youworker.services.authz import require_site_admin
from youworker.services.errors import Forbidden, NotFound, ValidationFailed
from youworker.services.hashing import verify_password
from youworker.services.mcp_env import sealed_env, server_env
from youworker.settings import get_settings

SERVER_NAME = re.compile(rf"^[a-z0-9_-]{{1,{SERVER_NAME_MAX}}}$")
TOOL_NAME = re.compile(rf"^[a-zA-Z0-9_-]{{1,{TOOL_NAME_MAX}}}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
ARGS_MAX = 100
ARG_MAX = 1000
ENV_MAX = 100
ENV_VALUE_MAX = 4000
STDIO_SWITCHED_OFF = (
    "Stdio MCP servers run a command on this server, and registering them is switched off. "
    "An operator can allow it with SECURITY__ALLOW_STDIO_MCP_SERVERS=true; HTTP servers work "
    "without it."
)
PASSWORD_MAX = 1024
# What a stdio server runs: changing any of these asks for the setting and the password again.
STDIO_RUNS = ("transport", "command", "args", "env")

log = get_logger(__name__)


def _has_control(text: str) -> bool:
    return any(ord(char) < 32 for char in text)


def _name_problem(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return "Name is required."
    if not SERVER_NAME.match(name.strip()):
        return (
            f"Name must be 1-{SERVER_NAME_MAX} characters: lowercase letters, digits, '_' or '-'."
        )
    if "__" in name:
        return "Name cannot contain '__' (it separates server and tool names)."
    return None


def _command_problem(command: Any) -> str | None:
    if not isinstance(command, str) or not command.strip():
        return "A command is required for a stdio server."
    if len(command) > COMMAND_MAX:
        return f"Command must be at most {COMMAND_MAX} characters."
    if _has_control(command):
        return "Command cannot contain control characters."
    return None


def _args_problem(args: Any) -> str | None:
    if not isinstance(args, list | tuple) or not all(isinstance(a, str) for a in args):
        return "Arguments must be a list of strings."
    if len(args) > ARGS_MAX:
        return f"At most {ARGS_MAX} arguments are allowed."
    for index, arg in enumerate(args, start=1):
        if len(arg) > ARG_MAX:
            return f"Argument {index} must be at most {ARG_MAX} characters."
        if "\x00" in arg:
            return f"Argument {index} cannot contain a NUL character."
    return None


def _env_problem(env: Any) -> str | None:
    if not isinstance(env, Mapping):
        return "Environment must map variable names to string values."
    if len(env) > ENV_MAX:
        return f"At most {ENV_MAX} environment variables are allowed."
    for key, value in env.items():
        if not isinstance(key, str) or not ENV_NAME.match(key):
            return f"{key!r} is not a valid variable name (letters, digits and '_')."
        if not isinstance(value, str):
            return f"The value of {key} must be a string."
        if len(value) > ENV_VALUE_MAX:
            return f"The value of {key} must be at most {ENV_VALUE_MAX} characters."
        if "\x00" in value:
            return f"The value of {key} cannot contain a NUL character."
    return None


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return "A URL is required for an HTTP server."
    if len(url) > URL_MAX:
        return f"URL must be at most {URL_MAX} characters."
    if _has_control(url) or " " in url.strip():
        return "URL cannot contain spaces or control characters."
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        return "Enter a valid http:// or https:// URL."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter a valid http:// or https:// URL."
    return None


def _safe_url(url: str | None) -> str | None:
    """The URL without credentials or query, for audit details."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


async def _name_taken(session: AsyncSession, name: str, exclude: uuid.UUID | None) -> bool:
    query = select(McpServer.id).where(col(McpServer.name) == name)
    if exclude is not None:
        query = query.where(col(McpServer.id) != exclude)
    return (await session.scalar(query)) is not None


async def _validated(
    session: AsyncSession,
    *,
    name: Any,
    transport: Any,
    command: Any,
    args: Any,
    env: Any,
    url: Any,
    exclude: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Check every field at once; returns the normalized values to store."""
    problems: dict[str, str | None] = {"name": _name_problem(name)}
    if transport not in (McpTransport.STDIO, McpTransport.HTTP):
        problems["transport"] = "Transport must be stdio or http."
    elif transport == McpTransport.STDIO:
        problems["command"] = _command_problem(command)
        problems["args"] = _args_problem(args)
        problems["env"] = _env_problem(env)
    else:
        problems["url"] = _url_problem(url)
    if problems["name"] is None and await _name_taken(session, name.strip(), exclude):
        problems["name"] = f"A server named {name.strip()!r} already exists."
    fields = {key: message for key, message in problems.items() if message}
    if fields:
        raise ValidationFailed(fields)
    if transport == McpTransport.STDIO:
        # Only the fields of the chosen transport are kept, so no stale secrets linger.
        return {
            "name": name.strip(),
            "transport": str(transport),
            "command": command.strip(),
            "args": list(args),
            "env": dict(env),
            "url": None,
        }
    return {
        "name": name.strip(),
        "transport": str(transport),
        "command": None,
        "args": [],
        "env": {},
        "url": url.strip(),
    }


def stdio_allowed() -> bool:
    return get_settings().security.allow_stdio_mcp_servers


def _confirm_stdio(actor: User, confirm_password: str | None) -> None:
    """Stdio needs the operator's switch and the acting admin's password."""
    if not stdio_allowed():
        raise Forbidden(STDIO_SWITCHED_OFF)
    if not confirm_password:
        raise ValidationFailed({"password": "Enter your password to add a stdio server."})
    ok, _ = verify_password(confirm_password[:PASSWORD_MAX], actor.password_hash)
    if not ok:
        log.info("mcp.stdio_password_refused", user=str(actor.id))
        raise ValidationFailed({"password": "Your password is incorrect."})


def _audit_details(server: McpServer) -> dict[str, Any]:
    # Arguments and environment values may carry credentials: only their shape is recorded.
    return {
        "name": server.name,
        "transport": server.transport,
        "enabled": server.enabled,
        "command": server.command,
        "arg_count": len(server.args),
        "env_keys": sorted(server_env(server)),
        "url": _safe_url(server.url),
    }


async def _commit_unique(session: AsyncSession, name: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # Two admins saving the same name at once: the unique index decides.
        await session.rollback()
        raise ValidationFailed({"name": f"A server named {name!r} already exists."}) from None


async def list_servers(session: AsyncSession, actor: User) -> list[McpServer]:
    require_site_admin(actor)
    return list(await session.scalars(select(McpServer).order_by(col(McpServer.name))))


async def get_server(session: AsyncSession, actor: User, server_id: uuid.UUID) -> McpServer:
    require_site_admin(actor)
    server = await session.get(McpServer, server_id)
    if server is None:
        raise NotFound("MCP server not found.")
    return server


async def create_server(
    session: AsyncSession,
    actor: User,
    *,
    name: str,
    transport: str,
    command: str | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    url: str | None = None,
    enabled: bool = True,
    confirm_password: str | None = None,
    context: audit.RequestContext | None = None,
) -> McpServer:
    """Register a server; a stdio one needs the setting and `confirm_password` (the actor's)."""
    require_site_admin(actor)
    values = await _validated(
        session,
        name=name,
        transport=transport,
        command=command,
        args=list(args) if isinstance(args, list | tuple) else args,
        env=env if env is not None else {},
        url=url,
    )
    if values["transport"] == McpTransport.STDIO:
        _confirm_stdio(actor, confirm_password)
    env_values = values.pop("env")
    server = McpServer(**values, env_enc=sealed_env(env_values), enabled=bool(enabled))
    session.add(server)
    audit.record(
        session,
        "mcp.server_create",
        actor=actor,
        resource_type="mcp_server",
        resource_id=server.id,
        context=context,
        **_audit_details(server),
    )
    await _commit_unique(session, server.name)
    return server


async def update_server(
    session: AsyncSession,
    actor: User,
    server_id: uuid.UUID,
    *,
    name: str | None = None,
    transport: str | None = None,
    command: str | None = None,
    args: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    url: str | None = None,
    enabled: bool | None = None,
    confirm_password: str | None = None,
    context: audit.RequestContext | None = None,
) -> McpServer:
    """Change the given fields; None keeps a field (so a form need not echo secret env values).

    Changing what a stdio server runs needs what registering one needs; a name or the on/off
    switch does not."""
    server = await get_server(session, actor, server_id)
    merged = {
        "name": server.name if name is None else name,
        "transport": server.transport if transport is None else transport,
        "command": server.command if command is None else command,
        "args": list(server.args) if args is None else args,
        "env": server_env(server) if env is None else env,
        "url": server.url if url is None else url,
    }
    if isinstance(merged["args"], tuple):
        merged["args"] = list(merged["args"])
    values = await _validated(session, **merged, exclude=server.id)
    if enabled is not None:
        values["enabled"] = bool(enabled)
    current = {key: getattr(server, key) for key in values if key != "env"}
    current["env"] = server_env(server)
    changed = sorted(key for key, value in values.items() if current[key] != value)
    if not changed:
        return server
    if values["transport"] == McpTransport.STDIO and set(changed) & set(STDIO_RUNS):
        _confirm_stdio(actor, confirm_password)
    for key in changed:
        if key == "env":
            server.env_enc = sealed_env(values["env"])
        else:
            setattr(server, key, values[key])
    server.updated_at = utcnow()
    audit.record(
        session,
        "mcp.server_update",
        actor=actor,
        resource_type="mcp_server",
        resource_id=server.id,
        context=context,
        changed=changed,
        **_audit_details(server),
    )
    await _commit_unique(session, server.name)
    return server


async def delete_server(
    session: AsyncSession,
    actor: User,
    server_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> None:
    server = await get_server(session, actor, server_id)
    audit.record(
        session,
        "mcp.server_delete",
        actor=actor,
        resource_type="mcp_server",
        resource_id=server.id,
        context=context,
        **_audit_details(server),
    )
    await session.delete(server)
    await session.commit()


async def list_tool_settings(session: AsyncSession, actor: User) -> list[ToolSetting]:
    require_site_admin(actor)
    return list(await session.scalars(select(ToolSetting).order_by(col(ToolSetting.tool_name))))


async def set_tool_enabled(
    session: AsyncSession,
    actor: User,
    tool_name: str,
    enabled: bool,
    context: audit.RequestContext | None = None,
) -> ToolSetting:
    """Switch a tool on or off for the whole installation (any tool name, present or not)."""
    require_site_admin(actor)
    name = tool_name.strip() if isinstance(tool_name, str) else ""
    if not TOOL_NAME.match(name):
        raise ValidationFailed(
            {
                "tool_name": f"Tool name must be 1-{TOOL_NAME_MAX} characters: letters, digits, "
                "'_' or '-'."
            }
        )
    setting = await session.get(ToolSetting, name)
    if setting is not None and setting.enabled == enabled:
        return setting
    if setting is None:
        setting = ToolSetting(tool_name=name, enabled=enabled)
        session.add(setting)
    else:
        setting.enabled = enabled
        setting.updated_at = utcnow()
    audit.record(
        session,
        "tool.enable" if enabled else "tool.disable",
        actor=actor,
        resource_type="tool",
        resource_id=name,
        context=context,
        tool=name,
    )
    await session.commit()
    return setting
