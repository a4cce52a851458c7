"""Uploaded documents, their extracted pages and chunks, sharing, and ingestion jobs.

The original file lives on disk under DATA_DIR/documents/<id>; `name` is display metadata only.
Vectors live in the vector store; `document_chunks` maps each vector id back to its passage.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from youworker.models.base import created_field, id_field, timestamp_field

DOCUMENT_NAME_MAX = 200
DOCUMENT_FOLDER_MAX = 500
ERROR_MAX = 1000


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PARSING = "parsing"
    EMBEDDING = "embedding"
    READY = "ready"
    FAILED = "failed"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Document(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (
        # One copy of the same content per owner: a second upload is recognised, not stored.
        UniqueConstraint("owner_id", "content_sha256", name="uq_documents_owner_content"),
        Index("ix_documents_owner_created", "owner_id", "created_at", "id"),
        Index("ix_documents_created", "created_at"),
    )

    id: uuid.UUID = id_field()
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    name: str = Field(max_length=DOCUMENT_NAME_MAX)
    # Where it sat in a folder upload, a .zip or an import ("guide/admin"): a label only.
    folder: str | None = Field(default=None, max_length=DOCUMENT_FOLDER_MAX)
    kind: str = Field(max_length=16)
    size_bytes: int
    content_sha256: str = Field(max_length=64)
    title: str | None = Field(default=None, max_length=DOCUMENT_NAME_MAX)
    page_count: int | None = None
    chunk_count: int | None = None
    status: str = Field(default=DocumentStatus.QUEUED, max_length=16, index=True)
    error: str | None = Field(default=None, max_length=ERROR_MAX)
    warnings: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Collection the vectors are in (embedder name and dimension); None until first indexed.
    embedder_key: str | None = Field(default=None, max_length=120)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    indexed_at: datetime | None = timestamp_field()


class DocumentShare(SQLModel, table=True):
    """A document readable by every member of a group."""

    __tablename__ = "document_shares"

    document_id: uuid.UUID = Field(foreign_key="documents.id", primary_key=True, ondelete="CASCADE")
    group_id: uuid.UUID = Field(
        foreign_key="groups.id", primary_key=True, index=True, ondelete="CASCADE"
    )
    shared_at: datetime = created_field()


class DocumentPage(SQLModel, table=True):
    """A page of extracted text (the whole text for formats without pages) and its sections."""

    __tablename__ = "document_pages"

    document_id: uuid.UUID = Field(foreign_key="documents.id", primary_key=True, ondelete="CASCADE")
    number: int = Field(primary_key=True)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # [{"heading": str | None, "level": int, "start": int, "body_start": int, "end": int}]
    sections: list[dict[str, object]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class DocumentChunk(SQLModel, table=True):
    """Where a vector's passage is: `page.text[char_start:char_end]`. The id is the vector id."""

    __tablename__ = "document_chunks"
    __table_args__ = (Index("ix_document_chunks_document", "document_id", "ordinal"),)

    id: uuid.UUID = Field(primary_key=True)
    document_id: uuid.UUID = Field(foreign_key="documents.id", ondelete="CASCADE")
    ordinal: int
    page: int
    heading: str | None = Field(default=None, max_length=500)
    char_start: int
    char_end: int
    token_count: int


class IngestionJob(SQLModel, table=True):
    """Work for a worker; a claim is a lease that a live worker keeps extending."""

    __tablename__ = "ingestion_jobs"
    __table_args__ = (Index("ix_ingestion_jobs_status_created", "status", "created_at"),)

    id: uuid.UUID = id_field()
    document_id: uuid.UUID = Field(foreign_key="documents.id", index=True, ondelete="CASCADE")
    status: str = Field(default=JobStatus.QUEUED, max_length=16)
    attempts: int = 0
    worker_id: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = timestamp_field()
    # Set while the job waits out an unavailable embedder or vector store; `waits` counts them.
    not_before: datetime | None = timestamp_field()
    waits: int = 0
    error: str | None = Field(default=None, max_length=ERROR_MAX)
    created_at: datetime = created_field()
    started_at: datetime | None = timestamp_field()
    finished_at: datetime | None = timestamp_field()
