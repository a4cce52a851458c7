"""Collections: named sets of documents (the caller's own, or a group's) to search within."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from youworker.api.deps import request_context
from youworker.api.errors import BODY_ERROR_RESPONSES, ERROR_RESPONSES, ErrorResponse
from youworker.api.principal import CurrentPrincipal, DbSession
from youworker.models.collection import COLLECTION_NAME_MAX
from youworker.services.documents import collections

router = APIRouter(tags=["collections"], responses=ERROR_RESPONSES)

FORBIDDEN: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorResponse, "description": "A group's collection: its admins only"}
}
NAMING = {
    **BODY_ERROR_RESPONSES,
    **FORBIDDEN,
    409: {"model": ErrorResponse, "description": "The name is taken (per person or group)"},
}
CHANGING = {**BODY_ERROR_RESPONSES, **FORBIDDEN}


class CollectionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    group_id: uuid.UUID | None = Field(description="Set for a group's collection")
    group_name: str | None
    document_count: int
    can_manage: bool = Field(description="The caller may rename it and change its documents")


class CollectionList(BaseModel):
    items: list[CollectionPublic]


class CollectionCreate(BaseModel):
    name: str = Field(min_length=1, max_length=COLLECTION_NAME_MAX)
    group_id: uuid.UUID | None = Field(
        default=None, description="Make it a group's collection (group admins only)"
    )


class CollectionUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=COLLECTION_NAME_MAX)


class DocumentIds(BaseModel):
    document_ids: list[uuid.UUID] = Field(
        min_length=1, max_length=collections.MAX_DOCUMENTS_PER_CALL
    )


class Changed(BaseModel):
    changed: int = Field(description="Documents added (or removed) by this call")


@router.get("/collections")
async def list_collections(principal: CurrentPrincipal, db: DbSession) -> CollectionList:
    """The caller's collections, then those of their groups."""
    views = await collections.list_collections(db, principal.user)
    return CollectionList(items=[CollectionPublic.model_validate(v) for v in views])


@router.post("/collections", status_code=201, responses=NAMING)
async def create_collection(
    body: CollectionCreate, request: Request, principal: CurrentPrincipal, db: DbSession
) -> CollectionPublic:
    view = await collections.create_collection(
        db, principal.user, body.name, group_id=body.group_id, context=request_context(request)
    )
    return CollectionPublic.model_validate(view)


@router.get("/collections/{collection_id}")
async def get_collection(
    collection_id: uuid.UUID, principal: CurrentPrincipal, db: DbSession
) -> CollectionPublic:
    """The collection; its documents: GET /documents?collection_id=."""
    view = await collections.get_collection(db, principal.user, collection_id)
    return CollectionPublic.model_validate(view)


@router.patch("/collections/{collection_id}", responses=NAMING)
async def rename_collection(
    collection_id: uuid.UUID,
    body: CollectionUpdate,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
) -> CollectionPublic:
    view = await collections.rename_collection(
        db, principal.user, collection_id, body.name, request_context(request)
    )
    return CollectionPublic.model_validate(view)


@router.delete("/collections/{collection_id}", status_code=204, responses=FORBIDDEN)
async def delete_collection(
    collection_id: uuid.UUID, request: Request, principal: CurrentPrincipal, db: DbSession
) -> Response:
    """Delete the collection; its documents are kept."""
    await collections.delete_collection(db, principal.user, collection_id, request_context(request))
    return Response(status_code=204)


@router.post("/collections/{collection_id}/documents", responses=CHANGING)
async def add_documents(
    collection_id: uuid.UUID,
    body: DocumentIds,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
) -> Changed:
    """Put documents the caller can read into the collection."""
    added = await collections.add_documents(
        db, principal.user, collection_id, body.document_ids, request_context(request)
    )
    return Changed(changed=added)


@router.post("/collections/{collection_id}/documents/remove", responses=CHANGING)
async def remove_documents(
    collection_id: uuid.UUID,
    body: DocumentIds,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
) -> Changed:
    """Take documents out of the collection (they are not deleted)."""
    removed = await collections.remove_documents(
        db, principal.user, collection_id, body.document_ids, request_context(request)
    )
    return Changed(changed=removed)


class MoveDocuments(DocumentIds):
    target_id: uuid.UUID = Field(description="The collection to move them to")


@router.post("/collections/{collection_id}/documents/move", responses=CHANGING)
async def move_documents(
    collection_id: uuid.UUID,
    body: MoveDocuments,
    request: Request,
    principal: CurrentPrincipal,
    db: DbSession,
) -> Changed:
    """Move documents from this collection to another, in one step; the caller manages both."""
    moved = await collections.move_documents(
        db,
        principal.user,
        collection_id,
        body.target_id,
        body.document_ids,
        request_context(request),
    )
    return Changed(changed=moved)
