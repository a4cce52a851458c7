"""MCP server environments (often tokens) are encrypted at rest and masked on the admin page."""

from __future__ import annotations

import json
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession

from alembic import command
from tests.conftest import ADMIN_PASSWORD
from tests.integration.test_mcp import CTX, SERVER_SCRIPT, registry_for
from youworker import db as db_module
from youworker import migrations
from youworker.db import sync_url
from youworker.models import User
from youworker.services import mcp_env, tools_admin
from youworker.services.encryption import get_cipher
from youworker.services.mcp import McpManager

TOKEN = "tok-SECRET-4711"


def raw_rows(database_url: str) -> list[dict[str, object]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM mcp_servers"))]
    finally:
        engine.dispose()


@pytest.mark.usefixtures("allow_stdio_mcp")
async def test_the_environment_is_stored_encrypted_and_still_reaches_the_server(
    db: AsyncSession, admin: User, database_url: str
) -> None:
    server = await tools_admin.create_server(
        db,
        admin,
        name="test",
        transport="stdio",
        command=sys.executable,
        args=[SERVER_SCRIPT],
        env={"API_TOKEN": TOKEN},
        confirm_password=ADMIN_PASSWORD,
    )
    (row,) = raw_rows(database_url)
    assert TOKEN not in repr(row) and "API_TOKEN" not in repr(row)
    assert str(row["env_enc"]).startswith("gAAAAA")
    assert json.loads(get_cipher().decrypt(str(row["env_enc"]))) == {"API_TOKEN": TOKEN}

    # The page shows the names only.
    assert mcp_env.masked_env(server) == "API_TOKEN=••••••"
    assert TOKEN not in mcp_env.masked_env(server)

    # The server process still gets the value.
    mcp = McpManager(session_factory=db_module.session_scope, retry_after_s=3600)
    try:
        await mcp.refresh()
        result = await registry_for(mcp).run("test__env_value", {"name": "API_TOKEN"}, CTX)
        assert result.ok and result.output == TOKEN
    finally:
        await mcp.aclose()


async def test_migration_encrypts_environments_stored_before(
    engine: object, database_url: str
) -> None:
    config = migrations.alembic_config(database_url)
    command.downgrade(config, "0008")
    sync = create_engine(sync_url(database_url))
    try:
        with sync.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO mcp_servers (id, name, transport, command, args, env, enabled,"
                    " created_at, updated_at) VALUES (:id, 'old', 'stdio', 'x', '[]', :env, :on,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {
                    "id": "0b8a6c52f0a04b6d8a3a4f0a0b0c0d0e"
                    if sync.dialect.name == "sqlite"
                    else "0b8a6c52-f0a0-4b6d-8a3a-4f0a0b0c0d0e",
                    "env": json.dumps({"API_TOKEN": TOKEN}),
                    "on": True,
                },
            )
    finally:
        sync.dispose()
    migrations.upgrade(database_url)

    (row,) = raw_rows(database_url)
    assert "env" not in row and TOKEN not in repr(row)
    assert json.loads(get_cipher().decrypt(str(row["env_enc"]))) == {"API_TOKEN": TOKEN}

    command.downgrade(config, "0008")
    (old,) = raw_rows(database_url)
    stored = old["env"]
    assert (json.loads(stored) if isinstance(stored, str) else stored) == {"API_TOKEN": TOKEN}
    migrations.upgrade(database_url)
