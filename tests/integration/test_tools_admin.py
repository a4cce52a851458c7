"""Site-admin management of MCP servers and tool switches: authorization, validation, audit."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ADMIN_PASSWORD
from youworker.models import AuditEvent, McpServer, ToolSetting, User
from youworker.services import mcp_env, tools_admin
from youworker.services.errors import AuthenticationFailed, Forbidden, NotFound, ValidationFailed
from youworker.services.tools.registry import ToolRegistry

# Stdio servers need the operator's switch and the admin's password (test_stdio_mcp_guard.py).
pytestmark = pytest.mark.usefixtures("allow_stdio_mcp")
OK = ADMIN_PASSWORD
STDIO = {
    "name": "files",
    "transport": "stdio",
    "command": "npx",
    "args": ["-y", "server"],
    "confirm_password": OK,
}


async def audit_actions(db: AsyncSession) -> list[str]:
    rows = await db.scalars(select(AuditEvent).order_by(AuditEvent.created_at))
    return [row.action for row in rows if row.action.startswith(("mcp.", "tool."))]


async def test_non_admins_are_refused_everywhere(
    db: AsyncSession, admin: User, alice: User
) -> None:
    server = await tools_admin.create_server(db, admin, **STDIO)
    attempts: list[Any] = [
        tools_admin.list_servers(db, alice),
        tools_admin.get_server(db, alice, server.id),
        tools_admin.create_server(db, alice, name="mine", transport="stdio", command="x"),
        tools_admin.update_server(db, alice, server.id, command="evil"),
        tools_admin.delete_server(db, alice, server.id),
        tools_admin.set_tool_enabled(db, alice, "calculator", False),
        tools_admin.list_tool_settings(db, alice),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            await attempt
    with pytest.raises(AuthenticationFailed):
        await tools_admin.list_servers(db, None)  # type: ignore[arg-type]
    await db.refresh(server)
    assert server.command == "npx"
    assert await db.scalar(select(ToolSetting)) is None


async def test_deactivated_admin_is_refused(db: AsyncSession, admin: User) -> None:
    admin.is_active = False
    with pytest.raises(AuthenticationFailed):
        await tools_admin.list_servers(db, admin)


async def test_create_stdio_and_http_servers(db: AsyncSession, admin: User) -> None:
    stdio = await tools_admin.create_server(
        db, admin, **STDIO, env={"API_TOKEN": "s3cret"}, enabled=False
    )
    http = await tools_admin.create_server(
        db, admin, name="web-search", transport="http", url=" https://mcp.example.com/mcp "
    )
    assert stdio.args == ["-y", "server"]
    assert mcp_env.server_env(stdio) == {"API_TOKEN": "s3cret"}
    assert not stdio.enabled and stdio.url is None
    assert http.url == "https://mcp.example.com/mcp" and http.command is None
    assert http.env_enc is None
    listed = await tools_admin.list_servers(db, admin)
    assert [server.name for server in listed] == ["files", "web-search"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": ""}, {"name": "Name is required."}),
        ({"name": "Files"}, {"name": "lowercase letters"}),
        ({"name": "has space"}, {"name": "lowercase letters"}),
        ({"name": "x" * 41}, {"name": "1-40 characters"}),
        ({"name": "a__b"}, {"name": "cannot contain '__'"}),
        ({"transport": "sse"}, {"transport": "stdio or http"}),
        ({"command": ""}, {"command": "command is required"}),
        ({"command": "run\nme"}, {"command": "control characters"}),
        ({"args": "not a list"}, {"args": "list of strings"}),
        ({"args": ["ok", 3]}, {"args": "list of strings"}),
        ({"args": ["a\x00b"]}, {"args": "NUL"}),
        ({"args": ["x"] * 101}, {"args": "At most 100"}),
        ({"env": {"1BAD": "v"}}, {"env": "not a valid variable name"}),
        ({"env": {"GOOD": 1}}, {"env": "must be a string"}),
        ({"env": ["A=1"]}, {"env": "map variable names"}),
        ({"name": "", "command": ""}, {"name": "required", "command": "required"}),
    ],
)
async def test_stdio_validation_names_each_field(
    db: AsyncSession, admin: User, fields: dict[str, Any], expected: dict[str, str]
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await tools_admin.create_server(db, admin, **{**STDIO, **fields})
    assert set(caught.value.fields) == set(expected)
    for field, fragment in expected.items():
        assert fragment.lower() in caught.value.fields[field].lower()
    assert await tools_admin.list_servers(db, admin) == []


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "ftp://example.com/mcp",
        "example.com/mcp",
        "http://",
        "http://a b/",
        "javascript:alert(1)",
        "http://host:99999/",
    ],
)
async def test_http_needs_an_http_url(db: AsyncSession, admin: User, url: str | None) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await tools_admin.create_server(db, admin, name="web", transport="http", url=url)
    assert set(caught.value.fields) == {"url"}


async def test_names_are_unique(db: AsyncSession, admin: User) -> None:
    await tools_admin.create_server(db, admin, **STDIO)
    with pytest.raises(ValidationFailed) as caught:
        await tools_admin.create_server(db, admin, **STDIO)
    assert caught.value.fields == {"name": "A server named 'files' already exists."}
    other = await tools_admin.create_server(
        db, admin, name="other", transport="stdio", command="x", confirm_password=OK
    )
    with pytest.raises(ValidationFailed):
        await tools_admin.update_server(db, admin, other.id, name="files")


async def test_update_keeps_what_is_not_given(db: AsyncSession, admin: User) -> None:
    server = await tools_admin.create_server(db, admin, **STDIO, env={"TOKEN": "keep-me"})
    created_at, first_update = server.created_at, server.updated_at
    updated = await tools_admin.update_server(
        db, admin, server.id, args=["--verbose"], confirm_password=OK
    )
    assert mcp_env.server_env(updated) == {"TOKEN": "keep-me"} and updated.command == "npx"
    assert updated.args == ["--verbose"]
    assert updated.created_at == created_at and updated.updated_at >= first_update

    # Switching to HTTP drops the stdio-only fields, secrets included.
    switched = await tools_admin.update_server(
        db, admin, server.id, transport="http", url="http://localhost:8000/mcp"
    )
    assert switched.command is None and switched.args == [] and switched.env_enc is None

    disabled = await tools_admin.update_server(db, admin, server.id, enabled=False)
    assert disabled.enabled is False


async def test_update_validates_the_merged_result(db: AsyncSession, admin: User) -> None:
    server = await tools_admin.create_server(db, admin, **STDIO)
    with pytest.raises(ValidationFailed) as caught:
        await tools_admin.update_server(db, admin, server.id, transport="http")
    assert set(caught.value.fields) == {"url"}
    await db.refresh(server)
    assert server.transport == "stdio"


async def test_missing_server_reads_as_not_found(db: AsyncSession, admin: User) -> None:
    for attempt in (
        tools_admin.get_server(db, admin, uuid.uuid4()),
        tools_admin.update_server(db, admin, uuid.uuid4(), command="x"),
        tools_admin.delete_server(db, admin, uuid.uuid4()),
    ):
        with pytest.raises(NotFound):
            await attempt


async def test_delete(db: AsyncSession, admin: User) -> None:
    server = await tools_admin.create_server(db, admin, **STDIO)
    await tools_admin.delete_server(db, admin, server.id)
    assert await tools_admin.list_servers(db, admin) == []


async def test_audit_trail_without_secrets(db: AsyncSession, admin: User) -> None:
    server = await tools_admin.create_server(
        db,
        admin,
        name="files",
        transport="stdio",
        command="server-bin",
        args=["--token", "arg-secret"],
        env={"API_TOKEN": "env-secret"},
        confirm_password=OK,
    )
    await tools_admin.update_server(
        db, admin, server.id, args=["--token", "arg-secret-2"], confirm_password=OK
    )
    await tools_admin.update_server(db, admin, server.id)  # nothing changed: no event
    await tools_admin.delete_server(db, admin, server.id)
    web = await tools_admin.create_server(
        db, admin, name="web", transport="http", url="https://user:pw@example.com/mcp?key=q-secret"
    )
    assert web.url and "pw@" in web.url
    await tools_admin.set_tool_enabled(db, admin, "calculator", False)
    await tools_admin.set_tool_enabled(db, admin, "calculator", False)  # already off: no event
    await tools_admin.set_tool_enabled(db, admin, "calculator", True)

    assert await audit_actions(db) == [
        "mcp.server_create",
        "mcp.server_update",
        "mcp.server_delete",
        "mcp.server_create",
        "tool.disable",
        "tool.enable",
    ]
    events = list(await db.scalars(select(AuditEvent).order_by(AuditEvent.created_at)))
    dump = repr([(event.details, event.resource_id) for event in events])
    for secret in ("arg-secret", "env-secret", "q-secret", "pw@"):
        assert secret not in dump
    create = next(e for e in events if e.action == "mcp.server_create")
    assert create.actor_id == admin.id and create.resource_id == str(server.id)
    assert create.details["env_keys"] == ["API_TOKEN"] and create.details["arg_count"] == 2
    update = next(e for e in events if e.action == "mcp.server_update")
    assert update.details["changed"] == ["args"]
    disable = next(e for e in events if e.action == "tool.disable")
    assert disable.resource_type == "tool" and disable.resource_id == "calculator"


async def test_tool_switches_feed_the_registry(db: AsyncSession, admin: User) -> None:
    await tools_admin.set_tool_enabled(db, admin, "calculator", False)
    await tools_admin.set_tool_enabled(db, admin, "files__read", False)
    settings = await tools_admin.list_tool_settings(db, admin)
    assert [(s.tool_name, s.enabled) for s in settings] == [
        ("calculator", False),
        ("files__read", False),
    ]
    registry = ToolRegistry()
    await registry.load_settings(db)
    assert [spec.name for spec in registry.specs()] == ["current_datetime"]


@pytest.mark.parametrize("name", ["", "has space", "dots.bad", "x" * 65, "semi;colon"])
async def test_tool_names_are_validated(db: AsyncSession, admin: User, name: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await tools_admin.set_tool_enabled(db, admin, name, False)
    assert set(caught.value.fields) == {"tool_name"}


async def test_stored_server_row_shape(db: AsyncSession, admin: User) -> None:
    server = await tools_admin.create_server(db, admin, **STDIO)
    stored = await db.get(McpServer, server.id)
    assert stored is not None
    assert stored.last_status is None and stored.last_checked_at is None
    assert stored.created_at.tzinfo is not None
