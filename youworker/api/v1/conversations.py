"""Conversations: list (newest first, by cursor), create, read with messages, rename, delete."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from youworker.api.deps import request_context
from youworker.api.errors import BODY_ERROR_RESPONSES, ERROR_RESPONSES
from youworker.api.principal import CurrentPrincipal, DbSession
from youworker.api.v1.messages import PAGE_SIZE_MAX, MessagePage
from youworker.models import Conversation
from youworker.models.chat import MODEL_NAME_MAX, TITLE_MAX
from youworker.services import chat
from youworker.services.errors import ValidationFailed

router = APIRouter(tags=["conversations"], responses=ERROR_RESPONSES)

CURSOR_MAX_CHARS = 200


class ConversationCreate(BaseModel):
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=TITLE_MAX,
        description="None: untitled until the first message names it",
    )
    model: str = Field(default="", max_length=MODEL_NAME_MAX, description="Empty: the default")
    use_documents: bool = Field(
        default=False, description="Search the caller's documents before each answer"
    )
    collection_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=chat.MAX_COLLECTIONS,
        description="Search only these collections (empty: every readable document)",
    )


class ConversationUpdate(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    model: str | None = Field(default=None, max_length=MODEL_NAME_MAX)
    use_documents: bool | None = None
    collection_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=chat.MAX_COLLECTIONS, description="[] searches everywhere"
    )


class ConversationPublic(BaseModel):
    id: uuid.UUID
    title: str
    model: str
    use_documents: bool
    collection_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class ConversationList(BaseModel):
    items: list[ConversationPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page")


class ConversationDetail(ConversationPublic):
    messages: MessagePage = Field(description="The latest messages, oldest first")


def encode_cursor(cursor: chat.ConversationCursor | None) -> str | None:
    if cursor is None:
        return None
    raw = json.dumps([cursor.updated_at.isoformat(), str(cursor.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str | None) -> chat.ConversationCursor | None:
    """The position encode_cursor wrote; anything else (tampered, hand-made) is refused."""
    if not token:
        return None
    invalid = ValidationFailed({"cursor": "This cursor is not valid; start again."})
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        stamp, key = json.loads(raw)
        if not (isinstance(stamp, str) and isinstance(key, str)):
            raise invalid  # uuid.UUID(<an int>) fails with an AttributeError
        position = chat.ConversationCursor(datetime.fromisoformat(stamp), uuid.UUID(key))
    except (binascii.Error, ValueError, TypeError):
        raise invalid from None
    if position.updated_at.tzinfo is None:
        raise invalid  # only UTC stamps are issued; a naive one cannot be compared (was a 500)
    return position


def _public(conversation: Conversation) -> ConversationPublic:
    return ConversationPublic(
        id=conversation.id,
        title=chat.title_of(conversation),
        model=conversation.model,
        use_documents=conversation.use_documents,
        collection_ids=[uuid.UUID(c) for c in conversation.collection_ids],
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


@router.get("/conversations")
async def list_conversations(
    principal: CurrentPrincipal,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=chat.PAGE_MAX)] = 30,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_CHARS)] = None,
    q: Annotated[str, Query(max_length=TITLE_MAX, description="Title contains")] = "",
) -> ConversationList:
    """The caller's conversations, most recently active first."""
    page = await chat.list_conversations(
        db, principal.user, query=q, after=decode_cursor(cursor), limit=limit
    )
    return ConversationList(
        items=[_public(item) for item in page.items], next_cursor=encode_cursor(page.next_cursor)
    )


@router.post("/conversations", status_code=201, responses=BODY_ERROR_RESPONSES)
async def create_conversation(
    body: ConversationCreate, principal: CurrentPrincipal, db: DbSession
) -> ConversationPublic:
    conversation = await chat.create_conversation(
        db,
        principal.user,
        model=body.model,
        title=" ".join((body.title or "").split()) or None,
        collection_ids=body.collection_ids,
    )
    if body.use_documents:
        conversation = await chat.set_use_documents(db, principal.user, conversation.id, True)
    return _public(conversation)


@router.get("/conversations/{conversation_id}")
async def get_conversation(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: DbSession,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX, description="Messages to include")] = 50,
) -> ConversationDetail:
    """The conversation with its latest messages (older ones: GET .../messages?before=)."""
    conversation = await chat.get_owned(db, principal.user, conversation_id)
    page = await chat.messages_of(db, conversation, limit=limit)
    return ConversationDetail(**_public(conversation).model_dump(), messages=MessagePage.of(page))


@router.patch("/conversations/{conversation_id}", responses=BODY_ERROR_RESPONSES)
async def update_conversation(
    conversation_id: uuid.UUID, body: ConversationUpdate, principal: CurrentPrincipal, db: DbSession
) -> ConversationPublic:
    """Rename, pick the model, or switch "use my documents"; omitted fields stay."""
    conversation = await chat.get_owned(db, principal.user, conversation_id)
    if body.title is not None:
        conversation = await chat.rename(db, principal.user, conversation_id, body.title)
    if body.model is not None:
        conversation = await chat.set_model(db, principal.user, conversation_id, body.model)
    if body.use_documents is not None:
        conversation = await chat.set_use_documents(
            db, principal.user, conversation_id, body.use_documents
        )
    if body.collection_ids is not None:
        conversation = await chat.set_collections(
            db, principal.user, conversation_id, body.collection_ids
        )
    return _public(conversation)


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(
    conversation_id: uuid.UUID, request: Request, principal: CurrentPrincipal, db: DbSession
) -> Response:
    await chat.delete_conversation(db, principal.user, conversation_id, request_context(request))
    return Response(status_code=204)
