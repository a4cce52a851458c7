"""Documents: upload one or several files, list, status, delete, and search (access-filtered)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from youworker.api.deps import request_context
from youworker.api.errors import (
    BODY_ERROR_RESPONSES,
    ERROR_RESPONSES,
    ApiError,
    ErrorBody,
    ErrorResponse,
)
from youworker.api.principal import CurrentPrincipal, DbSession
from youworker.api.v1.providers import CurrentEmbedder, Files, Vectors
from youworker.services.documents import collections, library
from youworker.services.documents.batch_upload import FileOutcome, add_upload
from youworker.services.documents.filetypes import format_size
from youworker.services.documents.retrieval import MAX_RESULTS, QUERY_MAX_CHARS, search_passages
from youworker.services.errors import ServiceError
from youworker.settings import get_settings

router = APIRouter(tags=["documents"], responses=ERROR_RESPONSES)

SEARCH_DOCUMENT_IDS_MAX = 100


class DocumentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    folder: str | None = Field(
        description="Folder it came from in a .zip or a folder import (a label), e.g. guide/admin"
    )
    kind: str
    size_bytes: int
    page_count: int | None
    chunk_count: int | None
    status: str = Field(description="queued | parsing | embedding | ready | failed")
    error: str | None
    warnings: list[str]
    owner_id: uuid.UUID
    owner_name: str
    is_owner: bool
    created_at: datetime
    updated_at: datetime


class DocumentList(BaseModel):
    items: list[DocumentPublic]
    total: int
    offset: int
    limit: int


class UploadOutcome(BaseModel):
    filename: str = Field(description="The file's name; for a .zip's files \"archive/path\"")
    outcome: Literal["created", "duplicate", "rejected"]
    document: DocumentPublic | None = None
    error: ErrorBody | None = None


class UploadResults(BaseModel):
    items: list[UploadOutcome]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=QUERY_MAX_CHARS)
    limit: int = Field(default=5, ge=1, le=MAX_RESULTS)
    document_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=SEARCH_DOCUMENT_IDS_MAX, description="Only these documents"
    )
    collection_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=SEARCH_DOCUMENT_IDS_MAX,
        description="Only documents in these collections",
    )


class PassagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    chunk_id: str
    document_id: uuid.UUID
    document_name: str
    page: int
    heading: str | None
    text: str
    score: float


class SearchResults(BaseModel):
    items: list[PassagePublic]


def _public(outcome: FileOutcome) -> UploadOutcome:
    if outcome.result is None:
        error = outcome.error or ServiceError("Not added.")
        return UploadOutcome(
            filename=outcome.label,
            outcome="rejected",
            error=ErrorBody(code=error.code, message=error.message),
        )
    return UploadOutcome(
        filename=outcome.label,
        outcome="duplicate" if outcome.result.duplicate else "created",
        document=DocumentPublic.model_validate(outcome.result.document),
    )


def _oversize(name: str, size: int, max_bytes: int) -> UploadOutcome:
    message = f"This file is {format_size(size)}; the limit is {format_size(max_bytes)}."
    return UploadOutcome(
        filename=name,
        outcome="rejected",
        error=ErrorBody(code="payload_too_large", message=message),
    )


@router.post(
    "/documents",
    status_code=201,
    responses={
        **BODY_ERROR_RESPONSES,
        200: {"model": UploadResults, "description": "Every file was already uploaded"},
        413: {"model": ErrorResponse, "description": "Every file (or the body) was over the limit"},
    },
)
async def upload_documents(
    files: Annotated[list[UploadFile], File(description="One or several files")],
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    db: DbSession,
    store: Files,
) -> UploadResults:
    """Upload files; each is checked, stored and queued for indexing, with its own outcome.

    A .zip is unpacked: each file in it gets its own outcome and keeps its path as its folder
    (links, encrypted files, nested archives, paths out of the archive and zip bombs are
    refused one by one). 201 when at least one document was created, 200 when all were
    already there; when every file is refused the whole request fails (413 if all were too
    large, else 422).
    """
    documents = get_settings().documents
    if len(files) > documents.max_batch_files:
        raise ApiError(
            422, "validation_error", f"At most {documents.max_batch_files} files at once."
        )
    max_bytes = documents.max_upload_bytes
    results: list[UploadOutcome] = []
    for upload in files:
        name = (upload.filename or "file")[:255]
        if upload.size is not None and upload.size > max_bytes:
            # Refused before reading it into memory.
            results.append(_oversize(name, upload.size, max_bytes))
            continue
        data = await upload.read()
        outcomes = await add_upload(
            db, principal.user, store, name, data, context=request_context(request)
        )
        results.extend(_public(outcome) for outcome in outcomes)
    rejected = [item for item in results if item.outcome == "rejected"]
    if len(rejected) == len(results):
        fields = {f"files.{i}": item.error.message for i, item in enumerate(rejected) if item.error}
        if all(item.error and item.error.code == "payload_too_large" for item in rejected):
            raise ApiError(413, "payload_too_large", "Every file is over the size limit.", fields)
        raise ApiError(422, "validation_error", "No file could be added.", fields)
    if not any(item.outcome == "created" for item in results):
        response.status_code = 200
    return UploadResults(items=results)


@router.get("/documents")
async def list_documents(
    principal: CurrentPrincipal,
    db: DbSession,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=library.MAX_PAGE_SIZE)] = 20,
    sort: Annotated[library.SortKey, Query()] = "created_at",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    q: Annotated[str, Query(max_length=200, description="Name or folder contains")] = "",
    collection_id: Annotated[uuid.UUID | None, Query(description="Only this collection")] = None,
) -> DocumentList:
    """Documents the caller may read: their own and those shared with their groups."""
    within = (
        None
        if collection_id is None
        else await collections.documents_clause(db, principal.user, collection_id)
    )
    page = await library.list_documents(
        db,
        principal.user,
        offset=offset,
        limit=limit,
        sort=sort,
        descending=order == "desc",
        query=q,
        within=within,
    )
    return DocumentList(
        items=[DocumentPublic.model_validate(item) for item in page.items],
        total=page.total,
        offset=page.offset,
        limit=page.limit,
    )


@router.get("/documents/{document_id}")
async def get_document(
    document_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> DocumentPublic:
    """One readable document with its indexing status."""
    view = await library.document_view(db, principal.user, document_id)
    return DocumentPublic.model_validate(view)


@router.delete("/documents/{document_id}", status_code=204)
async def delete_document(
    document_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
    store: Files,
    vectors: Vectors,
) -> Response:
    """Delete the caller's own document, its passages and vectors."""
    await library.delete_document(
        db, principal.user, document_id, store, vectors, request_context(request)
    )
    return Response(status_code=204)


@router.post("/documents/search", responses=BODY_ERROR_RESPONSES)
async def search_documents(
    body: SearchRequest,
    principal: CurrentPrincipal,
    db: DbSession,
    vectors: Vectors,
    embedder: CurrentEmbedder,
) -> SearchResults:
    """The best passages among the documents the caller may read (hybrid search)."""
    passages = await search_passages(
        db,
        principal.user,
        body.query,
        store=vectors,
        embedder=embedder,
        limit=body.limit,
        document_ids=body.document_ids,
        collection_ids=body.collection_ids,
    )
    return SearchResults(items=[PassagePublic.model_validate(p) for p in passages])
