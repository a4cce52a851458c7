"""Conversation titles (the first words of the first message) are encrypted like messages, and
the sidebar's search still finds them, page by page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession

from alembic import command
from tests.integration.api_v1_support import V1, api, client, jwt_for
from youworker import migrations
from youworker.db import sync_url
from youworker.models import Conversation, User
from youworker.services import chat
from youworker.services.chat import titles as chat_titles
from youworker.services.encryption import UNREADABLE, MessageCipher, get_cipher

__all__ = ["api", "client"]

QUESTION = "Zanzibar quartermaster: how many crates are left?"


def raw_conversations(database_url: str) -> list[dict[str, object]]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(text("SELECT * FROM conversations"))]
    finally:
        engine.dispose()


async def test_titles_are_stored_encrypted_and_searchable(
    db: AsyncSession,
    alice: User,
    bob: User,
    database_url: str,
    client: httpx.AsyncClient,
) -> None:
    asked = await chat.create_conversation(db, alice)
    await chat.add_user_message(db, alice, asked.id, QUESTION)
    named = await chat.create_conversation(db, alice, title="Quartermaster budget")
    await chat.create_conversation(db, bob, title="Quartermaster of Bob")
    renamed = await chat.create_conversation(db, alice)
    await chat.rename(db, alice, renamed.id, "Lighthouse keeper")

    rows = raw_conversations(database_url)
    dump = repr(rows)
    for needle in ("Zanzibar", "quartermaster", "Quartermaster", "Lighthouse", "crates"):
        assert needle not in dump, needle
    assert all(str(row["title_enc"]).startswith("gAAAAA") for row in rows)
    assert "title" not in rows[0]

    headers = jwt_for(alice)
    found = await client.get(f"{V1}/conversations", params={"q": "QUARTERMASTER"}, headers=headers)
    assert found.status_code == 200, found.text
    assert [item["title"] for item in found.json()["items"]] == ["Quartermaster budget", QUESTION]
    one = await client.get(f"{V1}/conversations/{renamed.id}", headers=headers)
    assert one.json()["title"] == "Lighthouse keeper"
    assert {c.id for c in (await chat.list_conversations(db, alice, query="keeper")).items} == {
        renamed.id
    }
    assert named.id in {c.id for c in (await chat.list_conversations(db, alice)).items}


async def test_search_pages_through_batches_without_gaps_or_repeats(
    db: AsyncSession, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_titles, "SEARCH_BATCH", 3)  # many batches from a few rows
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cipher = get_cipher()
    titles = [f"{'match' if i % 3 else 'other'} {i}" for i in range(20)]
    same_time = start + timedelta(hours=5)
    for i, title in enumerate(titles):
        stamp = same_time if 5 <= i <= 9 else start + timedelta(hours=i)  # ties on updated_at
        db.add(
            Conversation(
                owner_id=alice.id,
                title_enc=cipher.encrypt(title),
                created_at=stamp,
                updated_at=stamp,
            )
        )
    await db.commit()
    every = await chat.list_conversations(db, alice, limit=100)
    expected = [chat.title_of(c) for c in every.items if "match" in chat.title_of(c)]
    assert len(expected) == 13

    seen: list[str] = []
    cursor = None
    while True:
        page = await chat.list_conversations(db, alice, query="MATCH", after=cursor, limit=4)
        seen.extend(chat.title_of(c) for c in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == expected


async def test_a_title_whose_key_is_gone_reads_as_the_placeholder(
    db: AsyncSession, alice: User
) -> None:
    lost = MessageCipher([Fernet.generate_key().decode()])
    db.add(Conversation(owner_id=alice.id, title_enc=lost.encrypt("secret plans")))
    await db.commit()
    (conversation,) = (await chat.list_conversations(db, alice)).items
    assert chat.title_of(conversation) == UNREADABLE
    assert (await chat.list_conversations(db, alice, query="plans")).items == []


async def test_migration_encrypts_the_titles_stored_before(
    engine: object, database_url: str, alice: User
) -> None:
    config = migrations.alembic_config(database_url)
    command.downgrade(config, "0009")
    sync = create_engine(sync_url(database_url))
    ids = [uuid.uuid4(), uuid.uuid4()]
    try:
        with sync.begin() as conn:
            for conversation_id, title in zip(ids, ("Zanzibar plans", "New chat"), strict=True):
                conn.execute(
                    text(
                        "INSERT INTO conversations (id, owner_id, title, model, disabled_tools,"
                        " use_documents, created_at, updated_at) VALUES (:id, :owner, :title,"
                        " '', '[]', :no, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {
                        "id": conversation_id.hex
                        if sync.dialect.name == "sqlite"
                        else str(conversation_id),
                        "owner": alice.id.hex if sync.dialect.name == "sqlite" else str(alice.id),
                        "title": title,
                        "no": False,
                    },
                )
    finally:
        sync.dispose()
    migrations.upgrade(database_url)

    rows = raw_conversations(database_url)
    assert "Zanzibar" not in repr(rows)
    tokens = {row["title_enc"] for row in rows}
    assert None in tokens  # "New chat" is stored as no title
    (token,) = tokens - {None}
    assert get_cipher().decrypt(str(token)) == "Zanzibar plans"

    command.downgrade(config, "0009")
    assert {row["title"] for row in raw_conversations(database_url)} == {
        "Zanzibar plans",
        "New chat",
    }
    migrations.upgrade(database_url)
