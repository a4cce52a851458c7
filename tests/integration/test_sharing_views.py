"""What the sharing pages show: who a document is shared with, and a shared conversation's
owner and groups, each as the viewer may know it (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_documents import files, store, upload
from youworker.models import User
from youworker.services import accounts, chat, groups, sharing
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.errors import NotFound

__all__ = ["files", "store"]


@pytest.fixture
async def carol(db: AsyncSession, admin: User) -> User:
    return await accounts.register(
        db, email="carol@example.com", password="carol-password-1", display_name="Carol"
    )


async def two_groups(db: AsyncSession, owner: User, member: User) -> tuple[uuid.UUID, uuid.UUID]:
    """ "Team" (owner and member) and "Board" (the owner alone)."""
    team = await groups.create_group(db, owner, "Team")
    board = await groups.create_group(db, owner, "Board")
    await groups.add_member(db, team.id, member.id)
    await db.commit()
    return team.id, board.id


async def test_document_share_names_show_members_only_their_own_groups(
    db: AsyncSession, alice: User, bob: User, files: FileStore, store: EdgeVectorStore
) -> None:
    team, board = await two_groups(db, alice, bob)
    shared = uuid.UUID(await upload(db, alice, files, "a.txt", b"Alpha notes."))
    private = uuid.UUID(await upload(db, alice, files, "b.txt", b"Beta notes."))
    for group in (team, board):
        await sharing.set_document_shared(db, alice, shared, group, True, store)
    page = [shared, private]

    assert await sharing.document_share_names(db, alice, page) == {shared: ["Board", "Team"]}
    # Bob reads it through Team; that it is also shared with Board is not his business.
    assert await sharing.document_share_names(db, bob, page) == {shared: ["Team"]}
    assert await sharing.document_share_names(db, bob, []) == {}

    await groups.leave_group(db, bob, team)
    assert await sharing.document_share_names(db, bob, page) == {}
    await sharing.set_document_shared(db, alice, shared, board, False, store)
    assert await sharing.document_share_names(db, alice, page) == {shared: ["Team"]}


async def test_describe_shared_conversation_follows_membership(
    db: AsyncSession, alice: User, bob: User, carol: User
) -> None:
    team, board = await two_groups(db, alice, bob)
    conversation = await chat.create_conversation(db, alice)
    await chat.add_user_message(db, alice, conversation.id, "Plans for Q3")
    with pytest.raises(NotFound):
        await sharing.describe_shared_conversation(db, bob, conversation.id)
    for group in (team, board):
        await sharing.set_conversation_shared(db, alice, conversation.id, group, True)

    seen = await sharing.describe_shared_conversation(db, bob, conversation.id)
    assert (seen.title, seen.owner_name, seen.group_names, seen.is_owner) == (
        "Plans for Q3",
        "Alice",
        ["Team"],
        False,
    )
    own = await sharing.describe_shared_conversation(db, alice, conversation.id)
    assert (own.group_names, own.is_owner) == (["Board", "Team"], True)
    with pytest.raises(NotFound):
        await sharing.describe_shared_conversation(db, carol, conversation.id)
    with pytest.raises(NotFound):
        await sharing.describe_shared_conversation(db, bob, uuid.uuid4())

    await groups.remove_member(db, alice, team, bob.id)
    with pytest.raises(NotFound):
        await sharing.describe_shared_conversation(db, bob, conversation.id)
