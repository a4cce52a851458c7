"""Conversation titles, encrypted at rest like messages, and the sidebar's search over them.

A title starts as the first words of the first message, so it is chat text: it is stored as a
Fernet token (`Conversation.title_enc`; None means untitled, shown as "New chat"). The
database cannot search ciphertext, so a search reads the owner's conversations newest first in
batches of ids, dates and tokens, and matches the decrypted titles here; decrypted titles are
cached per token (a token never changes its text), so typing into the search box decrypts each
title once. Measured in
bench/open_conversation.py: a search through 5,000 conversations of one user.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import Conversation
from youworker.models.chat import TITLE_MAX
from youworker.services.chat.display import UNTITLED
from youworker.services.encryption import MessageCipher, get_cipher

SEARCH_BATCH = 1000
# Decrypted titles kept per (cipher, token): ~10,000 titles are a few MB.
TITLE_CACHE = 10_000


# Keyset position in the newest-first list (updated_at, id): never OFFSET over thousands of rows.
Position = tuple[datetime, uuid.UUID]


@lru_cache(maxsize=TITLE_CACHE)
def _opened(cipher: MessageCipher, token: str) -> str:
    # Keyed by the cipher too: new keys (a new cipher) never see an entry of the old ones.
    return cipher.readable(token)


def clear_cache() -> None:
    _opened.cache_clear()


def title_text(token: str | None) -> str:
    return UNTITLED if token is None else _opened(get_cipher(), token)


def title_of(conversation: Conversation) -> str:
    """The conversation's title as people read it."""
    return title_text(conversation.title_enc)


def sealed_title(title: str | None) -> str | None:
    """What is stored for `title`: None for untitled, else a token (at most TITLE_MAX chars).

    Any text is a title, "New chat" too: a conversation someone named so keeps its name."""
    return None if title is None else get_cipher().encrypt(title[:TITLE_MAX])


def after(position: Position | None) -> list[ColumnElement[bool]]:
    """Rows older than `position` in the newest-first order."""
    if position is None:
        return []
    updated_at, conversation_id = position
    return [
        or_(
            col(Conversation.updated_at) < updated_at,
            and_(
                col(Conversation.updated_at) == updated_at,
                col(Conversation.id) < conversation_id,
            ),
        )
    ]


async def matching_ids(
    session: AsyncSession,
    owner_id: uuid.UUID,
    needle: str,
    start: Position | None,
    wanted: int,
) -> Sequence[uuid.UUID]:
    """Up to `wanted` ids of the owner's conversations whose title contains `needle`
    (case-insensitive), newest first from `start`."""
    folded = needle.casefold()
    found: list[uuid.UUID] = []
    position = start
    while len(found) < wanted:
        rows = (
            await session.execute(
                select(col(Conversation.id), col(Conversation.updated_at), Conversation.title_enc)
                .where(col(Conversation.owner_id) == owner_id, *after(position))
                .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
                .limit(SEARCH_BATCH)
            )
        ).all()
        for conversation_id, _, token in rows:
            if folded in title_text(token).casefold():
                found.append(conversation_id)
                if len(found) == wanted:
                    break
        if len(rows) < SEARCH_BATCH:
            break
        position = (rows[-1][1], rows[-1][0])
    return found
