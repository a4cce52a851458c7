"""Collections: a person's own or a group's; who may use and manage them; search inside them.

Real ingestion (ONNX embedder, embedded Qdrant): the collection filter narrows the vector query
and the access filter still applies inside it.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tests.integration.test_documents import context, files, store, upload, worker
from youworker.models import DocumentShare, User
from youworker.services import accounts, groups
from youworker.services.documents import collections
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.retrieval import search_passages
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.errors import Conflict, Forbidden, NotFound, ValidationFailed

__all__ = ["context", "files", "store", "worker"]  # fixtures used here

ALLOWANCE = "The daily meal allowance on business trips is {} euros.\n"
QUESTION = "How much is the meal allowance on a business trip?"


async def ask(
    db: AsyncSession, user: User, store: EdgeVectorStore, ids: list[uuid.UUID] | None
) -> list[str]:
    passages = await search_passages(
        db, user, QUESTION, store=store, embedder=get_onnx_embedder(), collection_ids=ids
    )
    return [p.document_name for p in passages]


async def test_personal_collections_narrow_search_and_stay_private(
    db: AsyncSession,
    alice: User,
    bob: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    france = await upload(
        db, alice, files, "france.md", ("# France\n\n" + ALLOWANCE.format(42)).encode()
    )
    await upload(db, alice, files, "spain.md", ("# Spain\n\n" + ALLOWANCE.format(35)).encode())
    bobs = await upload(db, bob, files, "bob.md", ("# Bob\n\n" + ALLOWANCE.format(99)).encode())
    await worker.run_until_idle()

    travel = await collections.create_collection(db, alice, "  Travel\u200b  rules ")
    assert travel.name == "Travel rules" and travel.can_manage and travel.group_id is None
    with pytest.raises(Conflict):
        await collections.create_collection(db, alice, "Travel rules")
    with pytest.raises(ValidationFailed):
        await collections.create_collection(db, alice, " \n ")
    travel_id = uuid.UUID(travel.id)
    assert await collections.add_documents(db, alice, travel_id, [uuid.UUID(france)]) == 1
    assert await collections.add_documents(db, alice, travel_id, [uuid.UUID(france)]) == 0
    with pytest.raises(NotFound):  # someone else's document cannot be put in
        await collections.add_documents(db, alice, travel_id, [uuid.UUID(bobs)])

    assert set(await ask(db, alice, store, None)) == {"france.md", "spain.md"}
    assert await ask(db, alice, store, [travel_id]) == ["france.md"]
    empty = await collections.create_collection(db, alice, "Empty")
    assert await ask(db, alice, store, [uuid.UUID(empty.id)]) == []
    assert [c.name for c in await collections.list_collections(db, alice)] == [
        "Empty",
        "Travel rules",
    ]
    assert (await collections.get_collection(db, alice, travel_id)).document_count == 1

    # Bob can neither see, use nor change Alice's collection.
    assert await collections.list_collections(db, bob) == []
    with pytest.raises(NotFound):
        await ask(db, bob, store, [travel_id])
    with pytest.raises(NotFound):
        await collections.rename_collection(db, bob, travel_id, "Mine now")

    # Moving takes them out of one and puts them in the other, in one step.
    empty_id = uuid.UUID(empty.id)
    assert (
        await collections.move_documents(db, alice, travel_id, empty_id, [uuid.UUID(france)]) == 1
    )
    assert await ask(db, alice, store, [travel_id]) == []
    assert await ask(db, alice, store, [empty_id]) == ["france.md"]
    with pytest.raises(ValidationFailed):
        await collections.move_documents(db, alice, empty_id, empty_id, [uuid.UUID(france)])
    with pytest.raises(NotFound):  # into a collection Bob cannot manage: nothing moves
        await collections.move_documents(db, bob, empty_id, travel_id, [uuid.UUID(france)])
    with pytest.raises(NotFound):  # a document Alice cannot read: nothing moves either
        await collections.move_documents(
            db, alice, empty_id, travel_id, [uuid.UUID(france), uuid.UUID(bobs)]
        )
    assert await ask(db, alice, store, [empty_id]) == ["france.md"]
    assert (
        await collections.move_documents(db, alice, empty_id, travel_id, [uuid.UUID(france)]) == 1
    )

    assert await collections.remove_documents(db, alice, travel_id, [uuid.UUID(france)]) == 1
    assert await ask(db, alice, store, [travel_id]) == []
    await collections.delete_collection(db, alice, travel_id)
    assert (await collections.list_collections(db, alice))[0].name == "Empty"
    assert set(await ask(db, alice, store, None)) == {"france.md", "spain.md"}  # kept


async def test_group_collections_are_managed_by_admins_and_used_by_members(
    db: AsyncSession,
    alice: User,
    bob: User,
    admin: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    carol = await accounts.register(
        db, email="carol@example.com", password="carol-password-1", display_name="Carol"
    )
    team = await groups.create_group(db, alice, "Team", "")
    await groups.add_member(db, team.id, bob.id)
    await db.commit()
    shared = await upload(
        db, alice, files, "team.md", ("# Team\n\n" + ALLOWANCE.format(50)).encode()
    )
    private = await upload(
        db, alice, files, "mine.md", ("# Mine\n\n" + ALLOWANCE.format(70)).encode()
    )
    db.add(DocumentShare(document_id=uuid.UUID(shared), group_id=team.id))
    await db.commit()
    await worker.run_until_idle()

    with pytest.raises(Forbidden):  # members use group collections; admins make them
        await collections.create_collection(db, bob, "Bob's", group_id=team.id)
    with pytest.raises(NotFound):
        await collections.create_collection(db, carol, "Carol's", group_id=team.id)
    handbook = await collections.create_collection(db, alice, "Handbook", group_id=team.id)
    assert handbook.group_name == "Team"
    handbook_id = uuid.UUID(handbook.id)
    ids = [uuid.UUID(shared), uuid.UUID(private)]
    assert await collections.add_documents(db, alice, handbook_id, ids) == 2

    seen_by_bob = await collections.list_collections(db, bob)
    assert [(c.name, c.can_manage) for c in seen_by_bob] == [("Handbook", False)]
    # The access filter still runs: Bob finds the shared document, never Alice's private one.
    assert await ask(db, bob, store, [handbook_id]) == ["team.md"]
    assert set(await ask(db, alice, store, [handbook_id])) == {"team.md", "mine.md"}
    with pytest.raises(Forbidden):
        await collections.remove_documents(db, bob, handbook_id, [uuid.UUID(shared)])
    with pytest.raises(NotFound):
        await ask(db, carol, store, [handbook_id])
    assert await collections.list_collections(db, carol) == []
    # A site admin manages any group's collections, as they manage the group.
    renamed = await collections.rename_collection(db, admin, handbook_id, "Team handbook")
    assert renamed.name == "Team handbook"


async def test_listing_collections_takes_the_same_queries_for_many(
    db: AsyncSession, alice: User
) -> None:
    """No query per collection: the Documents page and the chat list them on every load."""
    team = await groups.create_group(db, alice, "Team", "")
    await db.commit()
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    async def queries_to_list() -> int:
        statements.clear()
        bind = db.bind
        assert isinstance(bind, AsyncEngine)
        event.listen(bind.sync_engine, "before_cursor_execute", record)
        try:
            await collections.list_collections(db, alice)
        finally:
            event.remove(bind.sync_engine, "before_cursor_execute", record)
        return len(statements)

    await collections.create_collection(db, alice, "Mine 0")
    await collections.create_collection(db, alice, "Team's 0", group_id=team.id)
    few = await queries_to_list()
    for index in range(1, 8):
        await collections.create_collection(db, alice, f"Mine {index}")
        await collections.create_collection(db, alice, f"Team's {index}", group_id=team.id)
    assert len(await collections.list_collections(db, alice)) == 16
    assert await queries_to_list() == few
