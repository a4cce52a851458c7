"""Documents as users see them: upload, list, read, download, re-index, delete, with access checks.

Who may read a document: its owner, and members of any group it is shared with. Only the owner
changes or deletes it. A document the actor may not read is "not found", never "forbidden".
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import ColumnElement, delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import SQLCoreOperations
from sqlmodel import col, select

from youworker.db import contains
from youworker.logging import get_logger
from youworker.models import (
    Document,
    DocumentChunk,
    DocumentPage,
    DocumentShare,
    DocumentStatus,
    GroupMembership,
    IngestionJob,
    JobStatus,
    User,
)
from youworker.models.base import utcnow
from youworker.services import audit
from youworker.services.authz import require_active
from youworker.services.documents import jobs
from youworker.services.documents.filetypes import (
    DocumentKind,
    DocumentRejected,
    check_size,
    detect_kind,
    safe_display_name,
    safe_folder_label,
)
from youworker.services.documents.parsing import preflight
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import VectorStore, VectorStoreError
from youworker.services.errors import Conflict, NotFound
from youworker.services.rate_limits import get_rate_limits

log = get_logger(__name__)

SortKey = Literal["created_at", "name", "size_bytes", "status", "kind", "page_count"]
SORT_KEYS: tuple[str, ...] = ("created_at", "name", "size_bytes", "status", "kind", "page_count")
MAX_PAGE_SIZE = 100
PENDING_STATUSES = (DocumentStatus.QUEUED, DocumentStatus.PARSING, DocumentStatus.EMBEDDING)
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "markdown": "text/markdown; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "html": "text/plain; charset=utf-8",  # served as text: an uploaded page never runs here
}
NOT_FOUND = "Document not found."


@dataclass(frozen=True)
class DocumentView:
    id: str
    name: str
    folder: str | None
    kind: str
    size_bytes: int
    page_count: int | None
    chunk_count: int | None
    status: str
    error: str | None
    warnings: list[str]
    owner_id: str
    owner_name: str
    is_owner: bool
    embedder_key: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DocumentPageList:
    items: list[DocumentView]
    total: int
    offset: int
    limit: int


@dataclass(frozen=True)
class UploadResult:
    document: DocumentView
    duplicate: bool


@dataclass(frozen=True)
class PageView:
    number: int
    text: str
    sections: list[dict[str, object]]


@dataclass(frozen=True)
class ChunkLocation:
    document_id: str
    chunk_id: str
    page: int
    char_start: int
    char_end: int


async def group_ids_of(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    statement = select(GroupMembership.group_id).where(col(GroupMembership.user_id) == user_id)
    return list(await session.scalars(statement))


async def sharing_groups(session: AsyncSession, document_id: uuid.UUID) -> list[uuid.UUID]:
    """The groups a document is shared with."""
    statement = select(DocumentShare.group_id).where(col(DocumentShare.document_id) == document_id)
    return list(await session.scalars(statement))


def readable_clause(user_id: uuid.UUID, group_ids: list[uuid.UUID]) -> ColumnElement[bool]:
    if not group_ids:
        return col(Document.owner_id) == user_id
    shared = select(DocumentShare.document_id).where(col(DocumentShare.group_id).in_(group_ids))
    return or_(col(Document.owner_id) == user_id, col(Document.id).in_(shared))


async def get_readable(session: AsyncSession, actor: User, document_id: uuid.UUID) -> Document:
    """The document if the actor owns it or belongs to a group it is shared with."""
    user = require_active(actor)
    document = await session.get(Document, document_id)
    if document is None:
        raise NotFound(NOT_FOUND)
    if document.owner_id == user.id:
        return document
    groups = await group_ids_of(session, user.id)
    if groups:
        shared = await session.scalar(
            select(DocumentShare.document_id).where(
                col(DocumentShare.document_id) == document_id,
                col(DocumentShare.group_id).in_(groups),
            )
        )
        if shared is not None:
            return document
    raise NotFound(NOT_FOUND)


async def get_owned(session: AsyncSession, actor: User, document_id: uuid.UUID) -> Document:
    """The document if the actor owns it; anyone else gets "not found"."""
    user = require_active(actor)
    document = await session.get(Document, document_id)
    if document is None or document.owner_id != user.id:
        raise NotFound(NOT_FOUND)
    return document


def view_of(document: Document, owner_name: str, actor_id: uuid.UUID) -> DocumentView:
    return DocumentView(
        id=str(document.id),
        name=document.name,
        folder=document.folder,
        kind=document.kind,
        size_bytes=document.size_bytes,
        page_count=document.page_count,
        chunk_count=document.chunk_count,
        status=document.status,
        error=document.error,
        warnings=list(document.warnings or []),
        owner_id=str(document.owner_id),
        owner_name=owner_name,
        is_owner=document.owner_id == actor_id,
        embedder_key=document.embedder_key,
        created_at=document.created_at,
        updated_at=document.updated_at,
    )


async def document_view(session: AsyncSession, actor: User, document_id: uuid.UUID) -> DocumentView:
    """One readable document as the list shows it (status included)."""
    document = await get_readable(session, actor, document_id)
    owner = await session.get(User, document.owner_id)
    return view_of(document, owner.display_name if owner else "", actor.id)


async def list_documents(
    session: AsyncSession,
    actor: User,
    *,
    offset: int = 0,
    limit: int = 20,
    sort: str = "created_at",
    descending: bool = True,
    query: str = "",
    within: ColumnElement[bool] | None = None,
) -> DocumentPageList:
    """A page of the documents the actor may read, sorted, with the total for pagination."""
    user = require_active(actor)
    if sort not in SORT_KEYS:
        sort = "created_at"
    offset = max(offset, 0)
    limit = min(max(limit, 1), MAX_PAGE_SIZE)
    groups = await group_ids_of(session, user.id)
    where = [readable_clause(user.id, groups)]
    if within is not None:  # e.g. collections.documents_clause: in one collection
        where.append(within)
    needle = query.strip()[:200]
    if needle:
        where.append(
            or_(
                contains(col(Document.name), needle),
                contains(cast(SQLCoreOperations[str], Document.folder), needle),
            )
        )
    total = await session.scalar(select(func.count()).select_from(Document).where(*where))
    column = col(getattr(Document, sort))
    order = [column.desc() if descending else column.asc(), col(Document.id).desc()]
    rows = await session.execute(
        select(Document, User.display_name)
        .join(User, col(User.id) == col(Document.owner_id))
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    items = [view_of(document, owner, user.id) for document, owner in rows.all()]
    return DocumentPageList(items=items, total=int(total or 0), offset=offset, limit=limit)


async def upload(
    session: AsyncSession,
    actor: User,
    files: FileStore,
    filename: str | None,
    data: bytes,
    *,
    max_bytes: int,
    context: audit.RequestContext | None = None,
    throttle: bool = True,
    relative_path: str | None = None,
) -> UploadResult:
    """Check, store and queue one file; the same content from the same owner is recognised.

    Every check runs before anything is written, so a refused file leaves no record or file.
    `throttle=False` only for the operator's import on the server (no network client).
    `relative_path` (from a folder, a .zip or an import) gives the document its folder label.
    """
    user = require_active(actor)
    if throttle:
        # Before any work: sniffing and hashing are what a flood of uploads would cost.
        await get_rate_limits().check_upload(user.id, len(data))
    name = safe_display_name(filename)
    # Sniffing, opening a PDF and hashing 50 MB are CPU work: off the event loop.
    kind, digest = await asyncio.to_thread(_check_content, data, name, max_bytes)
    existing = await _by_content(session, user.id, digest)
    if existing is not None:
        return UploadResult(view_of(existing, user.display_name, user.id), duplicate=True)
    document = Document(
        owner_id=user.id,
        name=name,
        folder=safe_folder_label(relative_path),
        kind=kind,
        size_bytes=len(data),
        content_sha256=digest,
    )
    await asyncio.to_thread(files.write, document.id, data)
    session.add(document)
    session.add(IngestionJob(document_id=document.id))
    audit.record(
        session,
        "document.upload",
        actor=user,
        resource_type="document",
        resource_id=document.id,
        context=context,
        name=name,
        size=len(data),
        kind=kind,
    )
    try:
        await session.commit()
    except IntegrityError:
        # The same content committed meanwhile (a double click): keep the first.
        await session.rollback()
        files.delete(document.id)
        existing = await _by_content(session, user.id, digest)
        if existing is None:
            raise
        return UploadResult(view_of(existing, user.display_name, user.id), duplicate=True)
    except BaseException:
        files.delete(document.id)
        raise
    await session.refresh(document)
    jobs.notify()
    log.info(
        "document.uploaded",
        user=str(user.id),
        document=str(document.id),
        kind=kind,
        size=len(data),
    )
    return UploadResult(view_of(document, user.display_name, user.id), duplicate=False)


def _check_content(data: bytes, name: str, max_bytes: int) -> tuple[DocumentKind, str]:
    """The real type of an acceptable upload and its SHA-256; DocumentRejected otherwise."""
    check_size(len(data), max_bytes)
    kind = detect_kind(data, name, max_bytes)
    preflight(kind, data)
    return kind, hashlib.sha256(data).hexdigest()


async def _by_content(session: AsyncSession, owner_id: uuid.UUID, digest: str) -> Document | None:
    return await session.scalar(
        select(Document).where(
            col(Document.owner_id) == owner_id, col(Document.content_sha256) == digest
        )
    )


async def reindex(
    session: AsyncSession,
    actor: User,
    document_id: uuid.UUID,
    context: audit.RequestContext | None = None,
) -> Document:
    """Queue the document again (also the retry after a failure); no-op while one is pending."""
    document = await get_owned(session, actor, document_id)
    pending = await session.scalar(
        select(IngestionJob.id).where(
            col(IngestionJob.document_id) == document_id,
            col(IngestionJob.status).in_([JobStatus.QUEUED, JobStatus.RUNNING]),
        )
    )
    if pending is not None:
        raise Conflict("This document is already being indexed.")
    document.status = DocumentStatus.QUEUED
    document.error = None
    document.updated_at = utcnow()
    session.add(document)
    session.add(IngestionJob(document_id=document.id))
    audit.record(
        session,
        "document.reindex",
        actor=actor,
        resource_type="document",
        resource_id=document.id,
        context=context,
        name=document.name,
    )
    await session.commit()
    await session.refresh(document)
    jobs.notify()
    log.info("document.reindex", user=str(actor.id), document=str(document_id))
    return document


async def delete_document(
    session: AsyncSession,
    actor: User,
    document_id: uuid.UUID,
    files: FileStore,
    store: VectorStore,
    context: audit.RequestContext | None = None,
) -> Document:
    """Remove the record, its pages, chunks, jobs, file and vectors.

    The record goes first, so from that moment nobody can read the document; vectors left
    behind by a failure are never shown, because search keeps only hits whose document exists.
    """
    document = await get_owned(session, actor, document_id)
    embedder_key = document.embedder_key
    for table in (DocumentChunk, DocumentPage, IngestionJob, DocumentShare):
        await session.execute(delete(table).where(col(table.document_id) == document_id))
    await session.delete(document)
    audit.record(
        session,
        "document.delete",
        actor=actor,
        resource_type="document",
        resource_id=document_id,
        context=context,
        name=document.name,
        size=document.size_bytes,
        kind=document.kind,
    )
    await session.commit()
    files.delete(document_id)
    if embedder_key:
        try:
            await store.delete_document(embedder_key, str(document_id))
        except VectorStoreError:
            log.warning("document.vectors_left", document=str(document_id), key=embedder_key)
    log.info("document.deleted", user=str(actor.id), document=str(document_id))
    return document


async def count_stale(session: AsyncSession, actor: User, embedder_key: str) -> int:
    """The actor's indexed documents whose vectors come from another embedder."""
    user = require_active(actor)
    count = await session.scalar(
        select(func.count())
        .select_from(Document)
        .where(
            col(Document.owner_id) == user.id,
            col(Document.embedder_key).is_not(None),
            col(Document.embedder_key) != embedder_key,
            col(Document.status).not_in(PENDING_STATUSES),
        )
    )
    return int(count or 0)


async def reindex_stale(session: AsyncSession, actor: User, embedder_key: str) -> int:
    """Queue every document of the actor indexed by another embedder; how many were queued."""
    user = require_active(actor)
    stale = list(
        await session.scalars(
            select(Document).where(
                col(Document.owner_id) == user.id,
                col(Document.embedder_key).is_not(None),
                col(Document.embedder_key) != embedder_key,
                col(Document.status).not_in(PENDING_STATUSES),
            )
        )
    )
    now = utcnow()
    for document in stale:
        document.status = DocumentStatus.QUEUED
        document.error = None
        document.updated_at = now
        session.add(IngestionJob(document_id=document.id))
    await session.commit()
    if stale:
        jobs.notify()
    return len(stale)


async def read_pages(
    session: AsyncSession, actor: User, document_id: uuid.UUID, first: int = 1, count: int = 5
) -> list[PageView]:
    """Extracted pages `first`..`first+count-1` of a readable document."""
    await get_readable(session, actor, document_id)
    count = min(max(count, 1), 50)
    pages = await session.scalars(
        select(DocumentPage)
        .where(col(DocumentPage.document_id) == document_id, col(DocumentPage.number) >= first)
        .order_by(col(DocumentPage.number))
        .limit(count)
    )
    return [PageView(page.number, page.text, list(page.sections)) for page in pages]


async def locate_chunk(session: AsyncSession, actor: User, chunk_id: uuid.UUID) -> ChunkLocation:
    """Where a cited passage is, if the actor may read its document."""
    chunk = await session.get(DocumentChunk, chunk_id)
    if chunk is None:
        raise NotFound("Passage not found.")
    await get_readable(session, actor, chunk.document_id)
    return ChunkLocation(
        str(chunk.document_id), str(chunk.id), chunk.page, chunk.char_start, chunk.char_end
    )


async def original_file(
    session: AsyncSession, actor: User, document_id: uuid.UUID, files: FileStore
) -> tuple[Document, bytes, str]:
    """The stored original and the media type to send it with, for anyone who may read it."""
    document = await get_readable(session, actor, document_id)
    try:
        data = await asyncio.to_thread(files.read, document.id)
    except FileNotFoundError as exc:
        raise NotFound("The original file is missing.") from exc
    return document, data, MEDIA_TYPES.get(document.kind, "application/octet-stream")


__all__ = [
    "DocumentRejected",
    "DocumentView",
    "UploadResult",
    "delete_document",
    "document_view",
    "get_owned",
    "get_readable",
    "list_documents",
    "locate_chunk",
    "original_file",
    "read_pages",
    "reindex",
    "upload",
]
