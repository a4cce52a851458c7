"""Chat data is encrypted in the database, and key rotation moves it to a new key."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.ollama_server import OllamaTestServer
from youworker import db as db_module
from youworker import migrations
from youworker.db import session_scope, sync_url
from youworker.models import Conversation, Message, MessageStatus, ToolCall, User
from youworker.services import accounts, chat
from youworker.services.chat.runs import ChatRuns
from youworker.services.encryption import MessageCipher, get_cipher
from youworker.services.key_rotation import rotate_all
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = "SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET"
QUESTION = "Zanzibar quartermaster asks: what is 6*7?"
ANSWER = "The result is 42."
ENCRYPTED = {
    "conversations": ("title_enc",),
    "messages": ("content_enc", "thinking_enc"),
    "tool_calls": ("arguments_enc", "result_enc", "error_enc"),
}
# Values that cannot carry chat text: ids, timestamps, numbers and flags. A two-character
# plaintext such as "42" can occur in those by chance, so it is searched everywhere else.
OPAQUE = re.compile(
    r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\d{4}-\d\d-\d\d[ T][0-9:.+]+|-?\d+(?:\.\d+)?|True|False)$"
)

KeyConfigurator = Callable[[list[str]], None]


def raw_rows(database_url: str, table: str) -> list[dict[str, Any]]:
    """Every row of `table` as stored, over a plain synchronous connection (no app code)."""
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    finally:
        engine.dispose()


def stored_tokens(database_url: str) -> list[str]:
    """Every encrypted value in the chat tables, in a stable order."""
    found: list[str] = []
    for table, columns in ENCRYPTED.items():
        rows = sorted(raw_rows(database_url, table), key=lambda row: str(row["id"]))
        for row in rows:
            found.extend(str(row[column]) for column in columns if row[column] is not None)
    return found


def row_count(database_url: str) -> int:
    return sum(len(raw_rows(database_url, table)) for table in ENCRYPTED)


@pytest.fixture
def configure_keys() -> Iterator[KeyConfigurator]:
    """Set SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET as an operator would (settings are cached)."""
    with pytest.MonkeyPatch.context() as patch:

        def configure(keys: list[str]) -> None:
            patch.setenv(SECRET_ENV, ",".join(keys))
            get_settings.cache_clear()
            get_cipher.cache_clear()
            assert get_settings().security.fernet_keys() == keys

        yield configure
    get_settings.cache_clear()
    get_cipher.cache_clear()


async def answer_with_tool(db: AsyncSession, owner: User) -> uuid.UUID:
    """One real tool-using answer: test-tool has the calculator work out 6*7."""
    conversation = await chat.create_conversation(db, owner, model="test-tool")
    with OllamaTestServer() as server:
        backend = OllamaBackend(server.url, timeout=30)

        async def resolve() -> tuple[LLMBackend, str]:
            return backend, "test-plain"

        runs = ChatRuns(resolve, ToolRegistry())

        async def follow() -> None:
            while True:
                seen = runs.version(conversation.id)
                snapshot = runs.snapshot(conversation.id)
                if snapshot is not None and snapshot.finished:
                    return
                await runs.wait_for_change(conversation.id, seen, timeout_s=30)

        try:
            await runs.start(owner, conversation.id, QUESTION)
            await asyncio.wait_for(follow(), 30)  # a bound, not a threshold
        finally:
            await runs.shutdown()
            await backend.aclose()
    return conversation.id


async def add_notes(db: AsyncSession, owner: User, count: int) -> uuid.UUID:
    conversation = await chat.create_conversation(db, owner)
    for i in range(count):
        await chat.add_user_message(db, owner, conversation.id, f"note number {i}")
    return conversation.id


async def all_contents(owner: User) -> list[str]:
    """Every message the owner can read through the app, decrypted with the configured keys."""
    async with session_scope() as fresh:
        conversations = (await chat.list_conversations(fresh, owner, limit=100)).items
        contents: list[str] = []
        for conversation in conversations:
            page = await chat.list_messages(fresh, owner, conversation.id, limit=100)
            for message in page.messages:
                contents.append(message.content)
                contents.extend(call.arguments + (call.result or "") for call in message.tool_calls)
    return sorted(contents)


# --- at rest ----------------------------------------------------------------------------------


async def test_chat_text_is_not_stored_in_plaintext(
    db: AsyncSession, alice: User, database_url: str
) -> None:
    cid = await answer_with_tool(db, alice)
    async with session_scope() as fresh:
        question, answer = (await chat.list_messages(fresh, alice, cid)).messages
    assert (question.content, answer.content, answer.status) == (QUESTION, ANSWER, "complete")
    (call,) = answer.tool_calls
    assert (call.arguments, call.result) == ('{"expression": "6*7"}', "42")

    cipher = get_cipher()
    for table, encrypted in ENCRYPTED.items():
        rows = raw_rows(database_url, table)
        assert rows
        dump = "\n".join(f"{column}={value}" for row in rows for column, value in row.items())
        for needle in ("Zanzibar", "quartermaster", "The result", "6*7", "expression"):
            assert needle not in dump, f"{needle!r} is readable in {table}"
        for row in rows:
            for column, value in row.items():
                if value is None:
                    continue
                shown = str(value)
                if column in encrypted:
                    # A Fernet token, i.e. base64 of ciphertext: it holds no readable text.
                    assert shown.startswith("gAAAAA")
                    cipher.decrypt(shown)
                elif not OPAQUE.match(shown):
                    assert "42" not in shown, f"{table}.{column} = {shown!r}"
    (tool_row,) = raw_rows(database_url, "tool_calls")
    assert cipher.decrypt(str(tool_row["result_enc"])) == "42"
    assert cipher.decrypt(str(tool_row["arguments_enc"])) == '{"expression": "6*7"}'


# --- rotation ---------------------------------------------------------------------------------


async def test_rotation_moves_every_token_to_the_new_key(
    db: AsyncSession, alice: User, database_url: str, configure_keys: KeyConfigurator
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    configure_keys([old])
    await answer_with_tool(db, alice)
    await add_notes(db, alice, 7)
    readable = await all_contents(alice)
    rows = row_count(database_url)
    # 2 conversations titled by their first message, 9 messages (question, answer, 7 notes) and
    # 1 tool call
    assert rows == 12
    assert all(MessageCipher([old]).decrypt(t) is not None for t in stored_tokens(database_url))

    # Step 1: the new key goes first; the old one stays so everything remains readable.
    configure_keys([new, old])
    assert await all_contents(alice) == readable
    # A conversation and its note, written under the new key already: rotation skips them.
    await add_notes(db, alice, 1)
    readable = await all_contents(alice)

    # Step 2: rotate, in batches smaller than the tables.
    async with session_scope() as session:
        report = await rotate_all(session, get_cipher(), batch_size=2)
    assert (report.scanned, report.rotated) == (rows + 2, rows)

    only_new = MessageCipher([new])
    rotated = stored_tokens(database_url)
    for token in rotated:
        only_new.decrypt(token)
        with pytest.raises(InvalidToken):
            MessageCipher([old]).decrypt(token)

    # Restartable: running it again finds nothing left and changes nothing.
    async with session_scope() as session:
        again = await rotate_all(session, get_cipher(), batch_size=2)
    assert (again.scanned, again.rotated) == (rows + 2, 0)
    assert stored_tokens(database_url) == rotated

    # Step 3: the old key is dropped and the app still reads everything.
    configure_keys([new])
    assert await all_contents(alice) == readable
    async with session_scope() as session:
        audit = await session.execute(
            text("SELECT count(*) FROM audit_events WHERE action = 'security.key_rotation'")
        )
        assert audit.scalar_one() == 2


async def test_rotation_batches_are_exact_at_the_boundary(
    db: AsyncSession, alice: User, configure_keys: KeyConfigurator
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    configure_keys([old])
    # 6 messages: three full batches of 2, then an empty read; and their titled conversation.
    await add_notes(db, alice, 6)
    configure_keys([new, old])
    async with session_scope() as session:
        report = await rotate_all(session, get_cipher(), batch_size=2)
    assert (report.scanned, report.rotated) == (7, 7)
    configure_keys([new])
    assert await all_contents(alice) == sorted(f"note number {i}" for i in range(6))


# --- the command line -------------------------------------------------------------------------


async def seed_cli_database(url: str, key: str) -> int:
    """A user, a conversation, 5 messages and a tool call, encrypted with `key` only."""
    engine = db_module.create_engine_for(url)
    cipher = MessageCipher([key])
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            owner = await accounts.register(
                session, email="cli@example.com", password="cli-password-1", display_name="Cli"
            )
            conversation = Conversation(owner_id=owner.id)
            session.add(conversation)
            await session.flush()
            messages = [
                Message(
                    conversation_id=conversation.id,
                    role="user" if i % 2 == 0 else "assistant",
                    content_enc=cipher.encrypt(f"cli message {i}"),
                    thinking_enc=cipher.encrypt("pondering") if i == 1 else None,
                    status=MessageStatus.COMPLETE,
                )
                for i in range(5)
            ]
            session.add_all(messages)
            await session.flush()
            session.add(
                ToolCall(
                    message_id=messages[1].id,
                    name="calculator",
                    arguments_enc=cipher.encrypt('{"expression": "6*7"}'),
                    result_enc=cipher.encrypt("42"),
                )
            )
            await session.commit()
    finally:
        await engine.dispose()
    return 6


def run_cli(args: list[str], tmp_path: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "DATABASE__URL": f"sqlite:///{tmp_path / 'cli.db'}",
        **extra_env,
    }
    return subprocess.run(
        [sys.executable, "-m", "youworker", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sqlite_tokens(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        found: list[str] = []
        for table, columns in ENCRYPTED.items():
            for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id"):
                found.extend(str(value) for value in row if value is not None)
    return found


async def test_rotate_key_command(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    url = f"sqlite:///{database}"
    migrations.upgrade(url)
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    rows = await seed_cli_database(url, old)
    before = sqlite_tokens(database)
    assert len(before) == 8  # 5 contents, 1 thinking, tool arguments and result
    plaintexts = [MessageCipher([old]).decrypt(token) for token in before]

    result = run_cli(["rotate-key", "--batch-size", "2"], tmp_path, **{SECRET_ENV: f"{new},{old}"})
    assert result.returncode == 0, result.stdout + result.stderr
    # The conversation has no title yet: scanned, nothing to rotate.
    assert f"re-encrypted {rows} of {rows + 1} rows under the newest key" in result.stdout
    assert "older keys can be removed" in result.stdout

    after = sqlite_tokens(database)
    assert [MessageCipher([new]).decrypt(token) for token in after] == plaintexts
    for token in after:
        with pytest.raises(InvalidToken):
            MessageCipher([old]).decrypt(token)

    again = run_cli(["rotate-key"], tmp_path, **{SECRET_ENV: f"{new},{old}"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"re-encrypted 0 of {rows + 1} rows under the newest key" in again.stdout
    assert sqlite_tokens(database) == after


def test_rotate_key_refuses_a_bad_key(tmp_path: Path) -> None:
    result = run_cli(["rotate-key"], tmp_path, **{SECRET_ENV: "not-a-key"})
    assert result.returncode == 2
    assert SECRET_ENV in result.stdout
