"""Conversations: owner-checked reads and writes of the list, titles and switches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import Conversation, Message, ToolCall, User
from youworker.models.chat import TITLE_MAX
from youworker.services import audit
from youworker.services.authz import require_active
from youworker.services.chat import titles as chat_titles
from youworker.services.chat.events import conversation_events
from youworker.services.documents import collections
from youworker.services.errors import NotFound, ValidationFailed

PAGE_MAX = 100
# Model and tool names: longer ones are no name any server gives.
NAME_MAX_CHARS = 200


@dataclass(frozen=True)
class ConversationCursor:
    """Keyset position in the newest-first list: never OFFSET over thousands of rows."""

    updated_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class ConversationPage:
    items: list[Conversation]
    next_cursor: ConversationCursor | None


async def get_owned(session: AsyncSession, actor: User, conversation_id: uuid.UUID) -> Conversation:
    """The conversation if the actor owns it; anything else reads as not found."""
    require_active(actor)
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("Conversation not found.")
    check_owned(actor, conversation_id, conversation)
    return conversation


def check_owned(actor: User, conversation_id: uuid.UUID, conversation: Conversation) -> None:
    """The check of `get_owned`, on a copy of the conversation the caller already holds."""
    require_active(actor)
    if conversation.id != conversation_id or conversation.owner_id != actor.id:
        raise NotFound("Conversation not found.")


async def list_conversations(
    session: AsyncSession,
    actor: User,
    *,
    query: str = "",
    after: ConversationCursor | None = None,
    limit: int = 30,
) -> ConversationPage:
    """The actor's conversations, newest first, one page at a time (titles searched decrypted)."""
    require_active(actor)
    limit = max(1, min(limit, PAGE_MAX))
    statement = select(Conversation).where(col(Conversation.owner_id) == actor.id)
    position = (after.updated_at, after.id) if after is not None else None
    needle = query.strip()[:TITLE_MAX]
    if needle:
        ids = await chat_titles.matching_ids(session, actor.id, needle, position, limit + 1)
        statement = statement.where(col(Conversation.id).in_(ids))
    else:
        statement = statement.where(*chat_titles.after(position))
    statement = statement.order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())
    rows = list(await session.scalars(statement.limit(limit + 1)))
    items = rows[:limit]
    cursor = ConversationCursor(items[-1].updated_at, items[-1].id) if len(rows) > limit else None
    return ConversationPage(items=items, next_cursor=cursor)


async def create_conversation(
    session: AsyncSession,
    actor: User,
    *,
    model: str = "",
    title: str | None = None,
    origin: str | None = None,
    conversation_id: uuid.UUID | None = None,
    disabled_tools: list[str] | None = None,
    use_documents: bool = False,
    collection_ids: list[uuid.UUID] | None = None,
) -> Conversation:
    """A new conversation, saved in one commit (so a retry cannot save it twice); `origin`
    names the client asking, so its other tabs refresh; `conversation_id` lets a page show the
    conversation before it is saved."""
    require_active(actor)
    searched = await _usable_collections(session, actor, collection_ids or [])
    conversation = Conversation(
        id=conversation_id or uuid.uuid4(),
        owner_id=actor.id,
        model=model[:NAME_MAX_CHARS],
        title_enc=chat_titles.sealed_title(title),
        disabled_tools=_tool_names(disabled_tools or []),
        use_documents=use_documents,
        collection_ids=searched,
    )
    session.add(conversation)
    await session.commit()
    conversation_events.changed(actor.id, origin)
    return conversation


async def rename(
    session: AsyncSession,
    actor: User,
    conversation_id: uuid.UUID,
    title: str,
    origin: str | None = None,
) -> Conversation:
    conversation = await get_owned(session, actor, conversation_id)
    cleaned = " ".join(title.split())
    if not cleaned:
        raise ValidationFailed({"title": "Title is required."})
    if len(cleaned) > TITLE_MAX:
        raise ValidationFailed({"title": f"Title must be at most {TITLE_MAX} characters."})
    conversation.title_enc = chat_titles.sealed_title(cleaned)
    await session.commit()
    conversation_events.changed(actor.id, origin)
    return conversation


async def delete_conversation(
    session: AsyncSession,
    actor: User,
    conversation_id: uuid.UUID,
    context: audit.RequestContext | None = None,
    origin: str | None = None,
) -> None:
    conversation = await get_owned(session, actor, conversation_id)
    message_ids = select(Message.id).where(col(Message.conversation_id) == conversation.id)
    # Explicit deletes: SQLite does not cascade unless every connection enables foreign keys.
    await session.execute(delete(ToolCall).where(col(ToolCall.message_id).in_(message_ids)))
    await session.execute(delete(Message).where(col(Message.conversation_id) == conversation.id))
    await session.delete(conversation)
    audit.record(
        session,
        "conversation.delete",
        actor=actor,
        resource_type="conversation",
        resource_id=conversation.id,
        context=context,
    )
    await session.commit()
    conversation_events.changed(actor.id, origin)


async def set_model(
    session: AsyncSession, actor: User, conversation_id: uuid.UUID, model: str
) -> Conversation:
    conversation = await get_owned(session, actor, conversation_id)
    if len(model) > NAME_MAX_CHARS:
        raise ValidationFailed({"model": "Model name is too long."})
    conversation.model = model
    await session.commit()
    return conversation


async def set_disabled_tools(
    session: AsyncSession, actor: User, conversation_id: uuid.UUID, names: list[str]
) -> Conversation:
    conversation = await get_owned(session, actor, conversation_id)
    conversation.disabled_tools = _tool_names(names)
    await session.commit()
    return conversation


def _tool_names(names: list[str]) -> list[str]:
    return sorted({name[:NAME_MAX_CHARS] for name in names})[:500]


MAX_COLLECTIONS = 10


async def _usable_collections(
    session: AsyncSession, actor: User, collection_ids: list[uuid.UUID]
) -> list[str]:
    """The ids, each a collection the actor may use (NotFound otherwise), without repeats."""
    unique = list(dict.fromkeys(collection_ids))
    if len(unique) > MAX_COLLECTIONS:
        raise ValidationFailed({"collection_ids": f"At most {MAX_COLLECTIONS} collections."})
    for collection_id in unique:
        await collections.get_collection(session, actor, collection_id)
    return [str(collection_id) for collection_id in unique]


async def set_collections(
    session: AsyncSession, actor: User, conversation_id: uuid.UUID, collection_ids: list[uuid.UUID]
) -> Conversation:
    """Where the conversation's searches look: these collections, or (empty) everywhere."""
    conversation = await get_owned(session, actor, conversation_id)
    conversation.collection_ids = await _usable_collections(session, actor, collection_ids)
    await session.commit()
    return conversation


async def set_use_documents(
    session: AsyncSession, actor: User, conversation_id: uuid.UUID, enabled: bool
) -> Conversation:
    """The "use my documents" switch: retrieve passages before the model is asked."""
    conversation = await get_owned(session, actor, conversation_id)
    conversation.use_documents = bool(enabled)
    await session.commit()
    return conversation
