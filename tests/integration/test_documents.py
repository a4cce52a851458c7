"""Documents end to end below the UI: upload, durable ingestion, hybrid search, access, deletion.

Real files (fpdf2, python-docx), the real built-in ONNX embedder, the real embedded Qdrant engine
and a real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.conftest import count_rows
from tests.files import PAGE_ONE, PAGE_TWO, make_docx, make_pdf
from youworker.db import session_scope
from youworker.models import (
    Document,
    DocumentShare,
    DocumentStatus,
    Group,
    GroupMembership,
    IngestionJob,
    JobStatus,
    User,
)
from youworker.models.base import utcnow
from youworker.services.documents import jobs, library
from youworker.services.documents.embedders import get_onnx_embedder
from youworker.services.documents.filetypes import DocumentRejected
from youworker.services.documents.ingest import IngestContext
from youworker.services.documents.retrieval import search_passages
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import EdgeVectorStore
from youworker.services.documents.worker import IngestionWorker
from youworker.services.errors import Conflict, NotFound
from youworker.settings import DocumentSettings

MAX_BYTES = 5 * 1024 * 1024
KEY = get_onnx_embedder().key


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "documents")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[EdgeVectorStore]:
    vectors = EdgeVectorStore(tmp_path / "vectors")
    yield vectors
    await vectors.close()


@pytest.fixture
def context(files: FileStore, store: EdgeVectorStore) -> IngestContext:
    async def embedder() -> object:
        return get_onnx_embedder()

    return IngestContext(
        files=files,
        store=store,
        embedder=embedder,  # type: ignore[arg-type]
        settings=DocumentSettings(job_lease_seconds=30),
    )


@pytest.fixture
def worker(context: IngestContext) -> IngestionWorker:
    return IngestionWorker(context, poll_seconds=0.05)


async def upload(db: AsyncSession, user: User, files: FileStore, name: str, data: bytes) -> str:
    result = await library.upload(db, user, files, name, data, max_bytes=MAX_BYTES)
    return result.document.id


async def document(document_id: str) -> Document:
    async with session_scope() as session:
        row = await session.get(Document, uuid.UUID(document_id))
        assert row is not None
        return row


async def search(db: AsyncSession, user: User, store: EdgeVectorStore, query: str) -> list:
    return await search_passages(db, user, query, store=store, embedder=get_onnx_embedder())


async def test_upload_is_queued_then_indexed_and_cited_by_page(
    db: AsyncSession, alice: User, files: FileStore, store: EdgeVectorStore, worker: IngestionWorker
) -> None:
    document_id = await upload(db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]))
    queued = await document(document_id)
    assert queued.status == DocumentStatus.QUEUED
    assert files.exists(queued.id)
    assert await count_rows(db, "ingestion_jobs") == 1
    waiting = await jobs.backlog(db)
    assert (waiting.queued, waiting.running) == (1, 0) and waiting.oldest_wait_s >= 0

    assert await worker.run_until_idle() == 1
    assert (await jobs.backlog(db)).queued == 0

    ready = await document(document_id)
    assert ready.status == DocumentStatus.READY, ready.error
    assert ready.page_count == 2
    assert ready.chunk_count == await count_rows(db, "document_chunks") >= 2
    assert await store.count(KEY) == ready.chunk_count
    assert ready.embedder_key == KEY

    passages = await search(db, alice, store, "How much is the meal allowance on trips?")
    assert passages[0].page == 2
    assert passages[0].document_name == "handbook.pdf"
    assert "42 euros" in passages[0].text
    assert [p.number for p in passages] == list(range(1, len(passages) + 1))

    where = await library.locate_chunk(db, alice, uuid.UUID(passages[0].chunk_id))
    pages = await library.read_pages(db, alice, uuid.UUID(document_id), where.page, 1)
    assert "42 euros" in pages[0].text[where.char_start : where.char_end]


async def test_same_content_twice_is_recognised(
    db: AsyncSession, alice: User, bob: User, files: FileStore
) -> None:
    data = make_pdf([PAGE_ONE])
    first = await library.upload(db, alice, files, "a.pdf", data, max_bytes=MAX_BYTES)
    again = await library.upload(db, alice, files, "copy of a.pdf", data, max_bytes=MAX_BYTES)
    assert again.duplicate and again.document.id == first.document.id
    assert again.document.name == "a.pdf"
    # Another user's copy is their own document.
    other = await library.upload(db, bob, files, "a.pdf", data, max_bytes=MAX_BYTES)
    assert not other.duplicate
    assert await count_rows(db, "documents") == 2


def _zip_bomb_docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/media/huge.bin", b"\0" * (120 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("notes.exe", b"MZ\x90\x00", "not supported"),
        ("empty.txt", b"", "empty"),
        ("big.txt", b"a" * (MAX_BYTES + 1), "limit"),
        ("photo.pdf", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "PNG"),
        ("locked.pdf", make_pdf(["secret"], owner_password="o", user_password="u"), "password"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj <<>> garbage", "PDF"),
        ("bomb.docx", _zip_bomb_docx(), "zip bomb"),
    ],
)
async def test_bad_files_leave_no_record_and_no_file(
    db: AsyncSession, alice: User, files: FileStore, name: str, data: bytes, message: str
) -> None:
    with pytest.raises(DocumentRejected) as caught:
        await library.upload(db, alice, files, name, data, max_bytes=MAX_BYTES)
    assert message.lower() in caught.value.message.lower()
    assert await count_rows(db, "documents") == 0
    assert await count_rows(db, "ingestion_jobs") == 0
    assert not files.root.exists() or not any(files.root.iterdir())


async def test_path_in_a_name_is_metadata_only(
    db: AsyncSession, alice: User, files: FileStore
) -> None:
    document_id = await upload(db, alice, files, "../../etc/passwd.txt", b"plain words here")
    row = await document(document_id)
    assert row.name == "passwd.txt"
    assert [p.name for p in files.root.iterdir()] == [document_id]
    absolute = await upload(db, alice, files, "/tmp/abs.md", b"# Title\n\nBody text")
    assert (await document(absolute)).name == "abs.md"


async def test_html_keeps_text_only(
    db: AsyncSession, alice: User, files: FileStore, worker: IngestionWorker
) -> None:
    page = b"<html><body><h1>Menu</h1><script>alert(1)</script><p>Soup of the day</p></body></html>"
    document_id = await upload(db, alice, files, "menu.html", page)
    await worker.run_until_idle()
    pages = await library.read_pages(db, alice, uuid.UUID(document_id))
    assert "Soup of the day" in pages[0].text
    assert "alert" not in pages[0].text and "<" not in pages[0].text


async def test_docx_and_markdown_keep_headings(
    db: AsyncSession, alice: User, files: FileStore, worker: IngestionWorker
) -> None:
    docx_id = await upload(db, alice, files, "report.docx", make_docx())
    md_id = await upload(
        db, alice, files, "guide.md", b"# Setup\n\nInstall it.\n\n## Run\n\nStart it."
    )
    await worker.run_until_idle()
    for document_id, heading in ((docx_id, "Revenue by region"), (md_id, "Run")):
        pages = await library.read_pages(db, alice, uuid.UUID(document_id))
        headings = [s["heading"] for s in pages[0].sections]
        assert heading in headings


async def test_other_users_never_reach_a_document(
    db: AsyncSession,
    alice: User,
    bob: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    document_id = await upload(db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]))
    await worker.run_until_idle()
    target = uuid.UUID(document_id)
    alice_hits = await search(db, alice, store, "meal allowance")
    assert alice_hits
    assert await search(db, bob, store, "meal allowance") == []
    listing = await library.list_documents(db, bob)
    assert listing.total == 0 and listing.items == []
    for attempt in (
        library.get_readable(db, bob, target),
        library.read_pages(db, bob, target),
        library.original_file(db, bob, target, files),
        library.locate_chunk(db, bob, uuid.UUID(alice_hits[0].chunk_id)),
        library.reindex(db, bob, target),
        library.delete_document(db, bob, target, files, store),
        library.get_readable(db, bob, uuid.uuid4()),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert (await document(document_id)).status == DocumentStatus.READY


async def test_group_members_read_shared_documents(
    db: AsyncSession,
    alice: User,
    bob: User,
    files: FileStore,
    store: EdgeVectorStore,
    worker: IngestionWorker,
) -> None:
    group = Group(name="Finance", created_by=alice.id)
    db.add(group)
    await db.flush()
    db.add(GroupMembership(group_id=group.id, user_id=bob.id))
    document_id = await upload(db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]))
    db.add(DocumentShare(document_id=uuid.UUID(document_id), group_id=group.id))
    await db.commit()
    await worker.run_until_idle()

    hits = await search(db, bob, store, "meal allowance")
    assert hits and hits[0].document_id == document_id
    assert (await library.list_documents(db, bob)).total == 1
    _, data, media_type = await library.original_file(db, bob, uuid.UUID(document_id), files)
    assert data.startswith(b"%PDF") and media_type == "application/pdf"
    # Reading is shared; changing is not.
    with pytest.raises(NotFound):
        await library.delete_document(db, bob, uuid.UUID(document_id), files, store)


async def test_delete_removes_record_file_pages_and_vectors(
    db: AsyncSession, alice: User, files: FileStore, store: EdgeVectorStore, worker: IngestionWorker
) -> None:
    keep = await upload(db, alice, files, "keep.txt", b"Apples are red and sweet.")
    drop = await upload(db, alice, files, "drop.pdf", make_pdf([PAGE_ONE, PAGE_TWO]))
    await worker.run_until_idle()
    kept_chunks = (await document(keep)).chunk_count
    await library.delete_document(db, alice, uuid.UUID(drop), files, store)
    assert not files.exists(uuid.UUID(drop))
    assert await count_rows(db, "documents") == 1
    assert await count_rows(db, "document_pages") == 1
    assert await store.count(KEY) == kept_chunks
    assert all(p.document_id == keep for p in await search(db, alice, store, "meal allowance"))


async def test_reindex_replaces_vectors_without_duplicates(
    db: AsyncSession, alice: User, files: FileStore, store: EdgeVectorStore, worker: IngestionWorker
) -> None:
    document_id = await upload(db, alice, files, "handbook.pdf", make_pdf([PAGE_ONE, PAGE_TWO]))
    with pytest.raises(Conflict):
        await library.reindex(db, alice, uuid.UUID(document_id))
    await worker.run_until_idle()
    chunks = (await document(document_id)).chunk_count
    queued = await library.reindex(db, alice, uuid.UUID(document_id))
    assert queued.status == DocumentStatus.QUEUED
    await worker.run_until_idle()
    assert (await document(document_id)).status == DocumentStatus.READY
    assert await store.count(KEY) == chunks
    assert await count_rows(db, "document_chunks") == chunks


async def test_failed_parse_keeps_its_reason_and_can_be_retried(
    db: AsyncSession, alice: User, files: FileStore, worker: IngestionWorker
) -> None:
    document_id = await upload(db, alice, files, "notes.txt", b"Short but fine.")
    files.path(uuid.UUID(document_id)).unlink()  # the stored file vanished
    await worker.run_until_idle()
    failed = await document(document_id)
    assert failed.status == DocumentStatus.FAILED
    assert "missing" in (failed.error or "")
    files.write(uuid.UUID(document_id), b"Short but fine.")
    await library.reindex(db, alice, uuid.UUID(document_id))
    await worker.run_until_idle()
    assert (await document(document_id)).status == DocumentStatus.READY


async def test_two_workers_never_run_the_same_job(
    db: AsyncSession, alice: User, files: FileStore, store: EdgeVectorStore, context: IngestContext
) -> None:
    ids = [
        await upload(db, alice, files, f"doc{i}.txt", f"Document {i}: {PAGE_TWO}".encode())
        for i in range(6)
    ]
    first, second = IngestionWorker(context), IngestionWorker(context)
    ran = await asyncio.gather(first.run_until_idle(), second.run_until_idle())
    assert sum(ran) == 6
    async with session_scope() as session:
        all_jobs = list(await session.scalars(select(IngestionJob)))
    assert [job.attempts for job in all_jobs] == [1] * 6
    assert {job.status for job in all_jobs} == {JobStatus.DONE}
    total = sum([(await document(i)).chunk_count or 0 for i in ids])
    assert await store.count(KEY) == total


async def test_a_dead_workers_job_is_resumed(
    db: AsyncSession, alice: User, files: FileStore, worker: IngestionWorker
) -> None:
    orphan = await upload(db, alice, files, "a.txt", b"Left behind by a crashed worker.")
    stale = await upload(db, alice, files, "b.txt", b"Left behind by a hung worker.")
    async with session_scope() as session:
        # One worker process that no longer exists; one whose lease simply ran out.
        for document_id, worker_id, lease in (
            (orphan, f"{jobs._HOST}:999999999:dead", utcnow() + timedelta(hours=1)),
            (stale, "elsewhere:1:hung", utcnow() - timedelta(seconds=1)),
        ):
            await session.execute(
                update(IngestionJob)
                .where(col(IngestionJob.document_id) == uuid.UUID(document_id))
                .values(
                    status=JobStatus.RUNNING, worker_id=worker_id, lease_until=lease, attempts=1
                )
            )
        await session.commit()
    assert await worker.run_until_idle() == 2
    for document_id in (orphan, stale):
        assert (await document(document_id)).status == DocumentStatus.READY
    async with session_scope() as session:
        assert [j.attempts for j in await session.scalars(select(IngestionJob))] == [2, 2]


async def test_a_job_that_keeps_crashing_its_worker_is_given_up(
    db: AsyncSession, alice: User, files: FileStore, worker: IngestionWorker
) -> None:
    document_id = await upload(db, alice, files, "a.txt", b"Crashes every time.")
    async with session_scope() as session:
        await session.execute(
            update(IngestionJob).values(
                status=JobStatus.RUNNING,
                worker_id="elsewhere:1:x",
                lease_until=utcnow() - timedelta(seconds=1),
                attempts=3,
            )
        )
        await session.commit()
    assert await worker.run_until_idle() == 0
    failed = await document(document_id)
    assert failed.status == DocumentStatus.FAILED
    assert "3 times" in (failed.error or "")


async def test_list_is_paginated_sorted_and_searchable(
    db: AsyncSession, alice: User, files: FileStore
) -> None:
    for index, size in enumerate((30, 10, 20)):
        await upload(db, alice, files, f"file-{index}.txt", f"{index} ".encode() * size)
    page = await library.list_documents(db, alice, limit=2, sort="size_bytes", descending=False)
    assert page.total == 3
    assert [item.name for item in page.items] == ["file-1.txt", "file-2.txt"]
    rest = await library.list_documents(
        db, alice, offset=2, limit=2, sort="size_bytes", descending=False
    )
    assert [item.name for item in rest.items] == ["file-0.txt"]
    found = await library.list_documents(db, alice, query="FILE-2")
    assert [item.name for item in found.items] == ["file-2.txt"]
    odd = await library.list_documents(db, alice, sort="owner_id; drop table users")
    assert odd.total == 3


async def test_documents_of_another_embedder_are_offered_a_reindex(
    db: AsyncSession, alice: User, files: FileStore, worker: IngestionWorker
) -> None:
    document_id = await upload(db, alice, files, "a.txt", b"Indexed long ago.")
    await worker.run_until_idle()
    assert await library.count_stale(db, alice, KEY) == 0
    assert await library.count_stale(db, alice, "ollama-embeddinggemma-768") == 1
    assert await library.reindex_stale(db, alice, "ollama-embeddinggemma-768") == 1
    assert (await document(document_id)).status == DocumentStatus.QUEUED
