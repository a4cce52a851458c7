"""Which cited documents a reader can open, and why not (SQLite and PostgreSQL).

A conversation shared with a group does not share the documents it cites: a member reading it
sees the source with the reason instead of a link to a "not found" page.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_documents import files, store, upload
from tests.integration.test_sharing_views import two_groups
from youworker.models import User
from youworker.services import sharing
from youworker.services.documents import access, library
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore

__all__ = ["files", "store"]


async def test_a_reader_is_told_which_cited_documents_they_cannot_open(
    db: AsyncSession, alice: User, bob: User, files: FileStore, store: EdgeVectorStore
) -> None:
    team, _ = await two_groups(db, alice, bob)
    shared = await upload(db, alice, files, "shared.txt", b"Shared notes.")
    private = await upload(db, alice, files, "private.txt", b"Private notes.")
    gone = await upload(db, alice, files, "gone.txt", b"Deleted notes.")
    await sharing.set_document_shared(db, alice, uuid.UUID(shared), team, True, store)
    await library.delete_document(db, alice, uuid.UUID(gone), files, store)
    cited = [shared, private, gone, "not-a-uuid"]

    assert await access.unopenable(db, alice, cited) == {gone: access.DELETED}
    assert await access.unopenable(db, bob, cited) == {
        private: access.NOT_SHARED,
        gone: access.DELETED,
    }
    assert await access.unopenable(db, bob, []) == {}


async def test_has_readable_documents_counts_own_and_shared(
    db: AsyncSession, alice: User, bob: User, files: FileStore, store: EdgeVectorStore
) -> None:
    team, _ = await two_groups(db, alice, bob)
    assert not await access.has_readable_documents(db, alice)
    document = await upload(db, alice, files, "notes.txt", b"Some notes.")
    assert await access.has_readable_documents(db, alice)
    assert not await access.has_readable_documents(db, bob)
    await sharing.set_document_shared(db, alice, uuid.UUID(document), team, True, store)
    assert await access.has_readable_documents(db, bob)
