"""`rotate-key` covers every encrypted column the models declare, and lost keys show a placeholder.

The columns are enumerated here from the models' metadata (every `*_enc` column of every table);
each table gets one row with every such column filled under the old key, the real command
rotates, and then no stored value anywhere in the database may still need the old key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from tests.integration.api_v1_support import V1, api, client, jwt_for  # noqa: F401
from youworker.db import sync_url
from youworker.models import (
    Conversation,
    McpServer,
    Message,
    MessageStatus,
    OutboxMail,
    ToolCall,
    User,
)
from youworker.services import mail
from youworker.services.encryption import UNREADABLE, MessageCipher

ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = "SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET"


def model_encrypted_columns() -> dict[str, list[str]]:
    """Every `*_enc` column of every table, read from the models (not from the rotation code)."""
    found: dict[str, list[str]] = {}
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if column.name.endswith("_enc"):
                found.setdefault(table.name, []).append(column.name)
    return found


# One row per table with encrypted columns; its encrypted columns are filled generically below.
Seeder = Callable[[AsyncSession, User], Any]


async def _conversation(db: AsyncSession, owner: User) -> Conversation:
    conversation = Conversation(owner_id=owner.id)
    db.add(conversation)
    await db.flush()
    return conversation


async def _message(db: AsyncSession, owner: User) -> Message:
    conversation = await _conversation(db, owner)
    return Message(
        conversation_id=conversation.id,
        role="assistant",
        content_enc="",
        status=MessageStatus.COMPLETE,
    )


async def _tool_call(db: AsyncSession, owner: User) -> ToolCall:
    message = await _message(db, owner)
    db.add(message)
    await db.flush()
    return ToolCall(message_id=message.id, name="calculator", arguments_enc="")


async def _outbox(db: AsyncSession, owner: User) -> OutboxMail:
    return OutboxMail(recipient="someone@example.com", subject="Hello", kind="invitation")


async def _mcp_server(db: AsyncSession, owner: User) -> McpServer:
    return McpServer(name="rotating", transport="stdio", command="server-bin")


async def _new_conversation(db: AsyncSession, owner: User) -> Conversation:
    return Conversation(owner_id=owner.id)


SEEDERS: dict[str, Seeder] = {
    "conversations": _new_conversation,
    "messages": _message,
    "tool_calls": _tool_call,
    "outbox_mail": _outbox,
    "mcp_servers": _mcp_server,
}


def raw_values(database_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table as stored, over a plain synchronous connection."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return {
                table.name: [
                    dict(row._mapping)
                    for row in conn.execute(text(f'SELECT * FROM "{table.name}"'))
                ]
                for table in SQLModel.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def run_rotate_key(database_url: str, tmp_path: Path, keys: list[str]) -> str:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE__URL": database_url,
        SECRET_ENV: ",".join(keys),
    }
    result = subprocess.run(
        [sys.executable, "-m", "youworker", "rotate-key", "--batch-size", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def test_rotate_key_rewrites_every_encrypted_column_of_the_models(
    db: AsyncSession, alice: User, database_url: str, tmp_path: Path
) -> None:
    declared = model_encrypted_columns()
    assert {"messages", "tool_calls", "outbox_mail"} <= set(declared)
    missing = set(declared) - set(SEEDERS)
    assert not missing, f"tables with *_enc columns and no seeder in this test: {missing}"

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_only = MessageCipher([old])
    plain: dict[tuple[str, str], str] = {}
    for table, columns in declared.items():
        row = await SEEDERS[table](db, alice)
        for column in columns:
            plain[(table, column)] = f"secret of {table}.{column} {uuid.uuid4()}"
            setattr(row, column, old_only.encrypt(plain[(table, column)]))
        db.add(row)
    await db.commit()

    stdout = run_rotate_key(database_url, tmp_path, [new, old])
    assert "older keys can be removed" in stdout

    new_only = MessageCipher([new])
    stored = raw_values(database_url)
    for (table, column), expected in plain.items():
        values = [row[column] for row in stored[table] if row[column]]
        assert values, f"{table}.{column} was not seeded"
        for value in values:
            try:
                assert new_only.decrypt(str(value)) == expected
            except InvalidToken:
                pytest.fail(f"{table}.{column} is still under the old key after rotate-key")
    # Nothing anywhere (whatever its name) still opens only with the old key.
    for table, rows in stored.items():
        for row in rows:
            for column, value in row.items():
                if isinstance(value, str) and value.startswith("gAAAAA"):
                    with pytest.raises(InvalidToken):
                        old_only.decrypt(value)
                    assert column.endswith("_enc"), f"{table}.{column} holds a Fernet token"


async def test_a_message_whose_key_is_gone_shows_a_placeholder(
    db: AsyncSession,
    alice: User,
    admin: User,
    client: httpx.AsyncClient,  # noqa: F811
) -> None:
    lost = MessageCipher([Fernet.generate_key().decode()])
    conversation = await _conversation(db, alice)
    answer = Message(
        conversation_id=conversation.id,
        role="assistant",
        content_enc=lost.encrypt("written under a key nobody kept"),
        thinking_enc=lost.encrypt("thinking"),
        citations_enc=lost.encrypt("[]"),
        status=MessageStatus.COMPLETE,
    )
    db.add(answer)
    await db.flush()
    db.add(
        ToolCall(
            message_id=answer.id,
            name="calculator",
            arguments_enc=lost.encrypt("{}"),
            result_enc=lost.encrypt("42"),
        )
    )
    db.add(
        OutboxMail(
            recipient="x@example.com",
            subject="Invitation",
            kind="invitation",
            body_enc=lost.encrypt("a link"),
        )
    )
    await db.commit()

    headers = jwt_for(alice)
    detail = await client.get(f"{V1}/conversations/{conversation.id}", headers=headers)
    listing = await client.get(f"{V1}/conversations/{conversation.id}/messages", headers=headers)
    for response in (detail, listing):
        assert response.status_code == 200, response.text
    for page in (detail.json()["messages"], listing.json()):
        (message,) = page["items"]
        assert message["content"] == UNREADABLE
        assert message["citations"] == []
        (call,) = message["tool_calls"]
        assert (call["arguments"], call["result"]) == (UNREADABLE, UNREADABLE)

    outbox = await mail.list_outbox(db, admin)
    assert [entry.body for entry in outbox.entries] == [UNREADABLE]
