"""Sharing documents and conversations with groups.

An owner shares with groups they belong to. Documents become readable (and retrievable) by the
group's members; conversations become readable, never writable. Access is always decided from the
membership tables at request time, so leaving or being removed from a group ends it at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from youworker.logging import get_logger
from youworker.models import (
    Conversation,
    ConversationShare,
    Document,
    DocumentShare,
    Group,
    GroupMembership,
    User,
)
from youworker.services import audit, chat, groups
from youworker.services.authz import require_active
from youworker.services.documents import library
from youworker.services.documents.vectorstore import VectorStore, VectorStoreError
from youworker.services.errors import NotFound

log = get_logger(__name__)

CONVERSATION_NOT_FOUND = "Conversation not found."
MAX_LISTED_DOCUMENTS = 500


@dataclass(frozen=True)
class ShareOption:
    """One of the actor's groups, and whether the item is shared with it."""

    group_id: uuid.UUID
    name: str
    shared: bool


@dataclass(frozen=True)
class SharedConversation:
    id: uuid.UUID
    title: str
    owner_name: str
    group_names: list[str]
    updated_at: datetime
    is_owner: bool = False  # the actor's own conversation


async def _my_group(session: AsyncSession, user: User, group_id: uuid.UUID) -> Group:
    """Owners share only with groups they belong to; any other group reads "not found"."""
    group = await session.get(Group, group_id)
    if group is None or await groups.membership(session, group_id, user.id) is None:
        raise NotFound(groups.NOT_FOUND)
    return group


async def _options(
    session: AsyncSession, user: User, shared_with: set[uuid.UUID]
) -> list[ShareOption]:
    rows = await session.execute(
        select(Group.id, Group.name)
        .join(GroupMembership, col(GroupMembership.group_id) == col(Group.id))
        .where(col(GroupMembership.user_id) == user.id)
        .order_by(func.lower(col(Group.name)), col(Group.id))
    )
    return [ShareOption(gid, name, gid in shared_with) for gid, name in rows.all()]


async def document_share_options(
    session: AsyncSession, actor: User | None, document_id: uuid.UUID
) -> list[ShareOption]:
    document = await library.get_owned(session, require_active(actor), document_id)
    assert actor is not None
    shared = set(await library.sharing_groups(session, document.id))
    return await _options(session, actor, shared)


async def set_document_shared(
    session: AsyncSession,
    actor: User | None,
    document_id: uuid.UUID,
    group_id: uuid.UUID,
    shared: bool,
    store: VectorStore,
    context: audit.RequestContext | None = None,
) -> None:
    """Share or stop sharing; the vectors' access list follows so retrieval agrees at once."""
    document = await library.get_owned(session, require_active(actor), document_id)
    assert actor is not None
    group = await _my_group(session, actor, group_id)
    existing = await session.get(DocumentShare, (document.id, group.id))
    if (existing is not None) == shared:
        return
    if shared:
        session.add(DocumentShare(document_id=document.id, group_id=group.id))
    else:
        await session.delete(existing)
    audit.record(
        session,
        "document.share" if shared else "document.unshare",
        actor=actor,
        resource_type="document",
        resource_id=document.id,
        context=context,
        group_id=group.id,
        name=document.name,
    )
    await session.commit()
    await refresh_document_access(session, document.id, store)


async def refresh_document_access(
    session: AsyncSession, document_id: uuid.UUID, store: VectorStore
) -> None:
    """Copy the document's current groups onto its vectors (a no-op before it is indexed).

    Search re-checks every hit against the database, so a failure here can only hide a newly
    shared document from the group, never expose one.
    """
    document = await session.get(library.Document, document_id)
    if document is None or not document.embedder_key:
        return
    group_ids = [str(g) for g in await library.sharing_groups(session, document_id)]
    try:
        await store.set_document_access(document.embedder_key, str(document_id), group_ids)
    except VectorStoreError:
        log.warning("document.access_not_synced", document=str(document_id))


async def conversation_share_options(
    session: AsyncSession, actor: User | None, conversation_id: uuid.UUID
) -> list[ShareOption]:
    conversation = await chat.get_owned(session, require_active(actor), conversation_id)
    assert actor is not None
    shared = set(
        await session.scalars(
            select(ConversationShare.group_id).where(
                col(ConversationShare.conversation_id) == conversation.id
            )
        )
    )
    return await _options(session, actor, shared)


async def set_conversation_shared(
    session: AsyncSession,
    actor: User | None,
    conversation_id: uuid.UUID,
    group_id: uuid.UUID,
    shared: bool,
    context: audit.RequestContext | None = None,
) -> None:
    conversation = await chat.get_owned(session, require_active(actor), conversation_id)
    assert actor is not None
    group = await _my_group(session, actor, group_id)
    existing = await session.get(ConversationShare, (conversation.id, group.id))
    if (existing is not None) == shared:
        return
    if shared:
        session.add(ConversationShare(conversation_id=conversation.id, group_id=group.id))
    else:
        await session.delete(existing)
    audit.record(
        session,
        "conversation.share" if shared else "conversation.unshare",
        actor=actor,
        resource_type="conversation",
        resource_id=conversation.id,
        context=context,
        group_id=group.id,
    )
    await session.commit()


def _shared_with_member(user_id: uuid.UUID) -> SelectOfScalar[uuid.UUID]:
    return (
        select(ConversationShare.conversation_id)
        .join(GroupMembership, col(GroupMembership.group_id) == col(ConversationShare.group_id))
        .where(col(GroupMembership.user_id) == user_id)
    )


async def get_shared_conversation(
    session: AsyncSession, actor: User | None, conversation_id: uuid.UUID
) -> Conversation:
    """A conversation the actor owns or may read through one of their groups."""
    user = require_active(actor)
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    if conversation.owner_id == user.id:
        return conversation
    visible = await session.scalar(
        _shared_with_member(user.id).where(
            col(ConversationShare.conversation_id) == conversation_id
        )
    )
    if visible is None:
        raise NotFound(CONVERSATION_NOT_FOUND)
    return conversation


async def read_shared_messages(
    session: AsyncSession,
    actor: User | None,
    conversation_id: uuid.UUID,
    *,
    before: uuid.UUID | None = None,
    limit: int = 50,
) -> chat.MessagePage:
    conversation = await get_shared_conversation(session, actor, conversation_id)
    return await chat.messages_of(session, conversation, before=before, limit=limit)


async def list_shared_with_me(
    session: AsyncSession, actor: User | None, limit: int = 100
) -> list[SharedConversation]:
    """Others' conversations shared with the actor's groups, most recently active first."""
    user = require_active(actor)
    limit = max(1, min(limit, 500))
    rows = await session.execute(
        select(Conversation, User.display_name, Group.name)
        .join(ConversationShare, col(ConversationShare.conversation_id) == col(Conversation.id))
        .join(Group, col(Group.id) == col(ConversationShare.group_id))
        .join(GroupMembership, col(GroupMembership.group_id) == col(Group.id))
        .join(User, col(User.id) == col(Conversation.owner_id))
        .where(col(GroupMembership.user_id) == user.id, col(Conversation.owner_id) != user.id)
        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id))
    )
    merged: dict[uuid.UUID, SharedConversation] = {}
    for conversation, owner_name, group_name in rows.all():
        entry = merged.get(conversation.id)
        if entry is None:
            if len(merged) >= limit:
                break
            merged[conversation.id] = SharedConversation(
                id=conversation.id,
                title=chat.title_of(conversation),
                owner_name=owner_name,
                group_names=[group_name],
                updated_at=conversation.updated_at,
            )
        elif group_name not in entry.group_names:
            entry.group_names.append(group_name)
    return list(merged.values())


def _my_groups(user_id: uuid.UUID) -> SelectOfScalar[uuid.UUID]:
    return select(GroupMembership.group_id).where(col(GroupMembership.user_id) == user_id)


async def document_share_names(
    session: AsyncSession, actor: User | None, document_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """For a page of documents, the groups each is shared with, as the actor may see them.

    The owner sees every group; anyone else only their own groups (the ones that give them the
    document), never who else it was shared with. Documents without such groups are left out.
    """
    user = require_active(actor)
    wanted = list(dict.fromkeys(document_ids))[:MAX_LISTED_DOCUMENTS]
    if not wanted:
        return {}
    rows = await session.execute(
        select(DocumentShare.document_id, Group.name)
        .join(Group, col(Group.id) == col(DocumentShare.group_id))
        .join(Document, col(Document.id) == col(DocumentShare.document_id))
        .where(
            col(DocumentShare.document_id).in_(wanted),
            or_(
                col(Document.owner_id) == user.id,
                col(DocumentShare.group_id).in_(_my_groups(user.id)),
            ),
        )
        .order_by(func.lower(col(Group.name)), col(Group.id))
    )
    names: dict[uuid.UUID, list[str]] = {}
    for document_id, name in rows.all():
        names.setdefault(document_id, []).append(name)
    return names


async def describe_shared_conversation(
    session: AsyncSession, actor: User | None, conversation_id: uuid.UUID
) -> SharedConversation:
    """Title, owner and the groups through which the actor reads the conversation.

    Like `get_shared_conversation`, "not found" unless the actor owns it or is in one of its
    groups; the owner is told every group, a member only their own.
    """
    conversation = await get_shared_conversation(session, actor, conversation_id)
    assert actor is not None
    owner_name = await session.scalar(
        select(User.display_name).where(col(User.id) == conversation.owner_id)
    )
    statement = (
        select(Group.name)
        .join(ConversationShare, col(ConversationShare.group_id) == col(Group.id))
        .where(col(ConversationShare.conversation_id) == conversation.id)
    )
    if conversation.owner_id != actor.id:
        statement = statement.where(col(Group.id).in_(_my_groups(actor.id)))
    group_names = await session.scalars(
        statement.order_by(func.lower(col(Group.name)), col(Group.id))
    )
    return SharedConversation(
        id=conversation.id,
        title=chat.title_of(conversation),
        owner_name=owner_name or "",
        group_names=list(group_names),
        updated_at=conversation.updated_at,
        is_owner=conversation.owner_id == actor.id,
    )
