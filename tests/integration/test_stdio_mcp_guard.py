"""A stdio MCP server runs a command on the server: registering one needs the operator's switch
(off by default) and the admin's password; HTTP servers need neither."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ADMIN_PASSWORD
from youworker.models import McpServer, User
from youworker.services import tools_admin
from youworker.services.errors import Forbidden, ValidationFailed
from youworker.settings import get_settings

STDIO = {"name": "shell", "transport": "stdio", "command": sys.executable, "args": ["-V"]}


async def servers(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count()).select_from(McpServer)) or 0)


async def test_stdio_servers_are_off_by_default(db: AsyncSession, admin: User) -> None:
    assert get_settings().security.allow_stdio_mcp_servers is False
    with pytest.raises(Forbidden, match="SECURITY__ALLOW_STDIO_MCP_SERVERS"):
        await tools_admin.create_server(db, admin, **STDIO, confirm_password=ADMIN_PASSWORD)
    assert await servers(db) == 0
    # An HTTP server is allowed, and needs no password; it cannot be turned into stdio.
    web = await tools_admin.create_server(
        db, admin, name="web", transport="http", url="https://mcp.example.com/mcp"
    )
    with pytest.raises(Forbidden):
        await tools_admin.update_server(
            db,
            admin,
            web.id,
            transport="stdio",
            command=sys.executable,
            confirm_password=ADMIN_PASSWORD,
        )
    await db.refresh(web)
    assert web.transport == "http" and web.command is None


@pytest.mark.usefixtures("allow_stdio_mcp")
async def test_switched_on_a_stdio_server_needs_the_admins_password(
    db: AsyncSession, admin: User
) -> None:
    for password, message in ((None, "Enter your password"), ("wrong-password", "incorrect")):
        with pytest.raises(ValidationFailed, match=message) as caught:
            await tools_admin.create_server(db, admin, **STDIO, confirm_password=password)
        assert set(caught.value.fields) == {"password"}
    assert await servers(db) == 0

    server = await tools_admin.create_server(db, admin, **STDIO, confirm_password=ADMIN_PASSWORD)

    # Changing what it runs asks again; a name or the switch does not.
    for change in ({"command": "/bin/sh"}, {"args": ["-c", "id"]}, {"env": {"X": "1"}}):
        with pytest.raises(ValidationFailed):
            await tools_admin.update_server(db, admin, server.id, **change)  # type: ignore[arg-type]
        with pytest.raises(ValidationFailed):
            await tools_admin.update_server(
                db,
                admin,
                server.id,
                confirm_password="wrong-password",
                **change,  # type: ignore[arg-type]
            )
    await db.refresh(server)
    assert (server.command, server.args, server.env_enc) == (sys.executable, ["-V"], None)
    await tools_admin.update_server(db, admin, server.id, enabled=False)
    await tools_admin.update_server(db, admin, server.id, name="shell-2")
    changed = await tools_admin.update_server(
        db, admin, server.id, args=["-c", "pass"], confirm_password=ADMIN_PASSWORD
    )
    assert changed.args == ["-c", "pass"] and changed.name == "shell-2"
