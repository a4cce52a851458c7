"""Messages of a conversation: read a page, or send one and stream the answer.

Sending uses the same run machinery as the browser (services/chat/runs.py): the question is
saved first, the answer is written by a task of the server process and saved when it ends, so
a client that disconnects mid-stream loses nothing; it can read the answer later.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from youworker.api.errors import BODY_ERROR_RESPONSES, ERROR_RESPONSES, ErrorResponse
from youworker.api.principal import CurrentPrincipal, DbSession
from youworker.api.v1 import streaming
from youworker.api.v1.providers import Runs
from youworker.services import chat

router = APIRouter(tags=["messages"])

PAGE_SIZE_MAX = chat.PAGE_MAX
# A hard ceiling for the request body; the configured CHAT__MAX_MESSAGE_CHARS is checked by the
# service with a clearer message.
CONTENT_MAX_CHARS = 1_000_000


class ToolCallPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    step: int
    name: str
    arguments: str = Field(description="JSON text of the arguments")
    result: str | None
    error: str | None
    ok: bool
    duration_ms: int | None


class CitationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    chunk_id: str
    document_id: str
    document_name: str
    page: int
    heading: str | None
    snippet: str


class MessagePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: str
    content: str
    thinking: str
    status: str = Field(description="complete | streaming | stopped | error")
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int | None
    ttft_ms: int | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    tool_calls: list[ToolCallPublic]
    citations: list[CitationPublic]


class MessagePage(BaseModel):
    items: list[MessagePublic] = Field(description="Oldest first")
    has_more: bool = Field(description="Older messages exist; pass the first id as `before`")

    @classmethod
    def of(cls, page: chat.MessagePage) -> MessagePage:
        return cls(
            items=[MessagePublic.model_validate(view) for view in page.messages],
            has_more=page.has_more,
        )


def _render(view: chat.MessageView) -> dict[str, Any]:
    return MessagePublic.model_validate(view).model_dump(mode="json")


class MessageCreate(BaseModel):
    content: str = Field(min_length=1, max_length=CONTENT_MAX_CHARS)


@router.get(
    "/conversations/{conversation_id}/messages", responses=ERROR_RESPONSES, name="list_messages"
)
async def list_messages(
    conversation_id: uuid.UUID,
    principal: CurrentPrincipal,
    db: DbSession,
    before: Annotated[uuid.UUID | None, Query(description="A message id: older ones")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = 50,
) -> MessagePage:
    """The latest messages (or those before `before`), oldest first."""
    page = await chat.list_messages(db, principal.user, conversation_id, before=before, limit=limit)
    return MessagePage.of(page)


STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The answer as it is written. NDJSON by default (one JSON object per line, `type` "
            "is start | delta | thinking | tool_call | tool_result | error | ping | done); "
            "server-sent events with `Accept: text/event-stream` (the same objects as `data`, "
            "`type` as the event name); with `Accept: application/json` the saved answer once "
            "it is complete."
        ),
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/event-stream": {"schema": {"type": "string"}},
            "application/json": {"schema": MessagePublic.model_json_schema()},
        },
    },
    409: {"model": ErrorResponse, "description": "An answer is still being written"},
    **ERROR_RESPONSES,
    **BODY_ERROR_RESPONSES,
}


@router.post(
    "/conversations/{conversation_id}/messages",
    responses=STREAM_RESPONSES,
    response_model=None,
    name="send_message",
)
async def send_message(
    conversation_id: uuid.UUID,
    body: MessageCreate,
    request: Request,
    principal: CurrentPrincipal,
    runs: Runs,
) -> StreamingResponse | JSONResponse:
    """Send a message and stream the agent's answer, tool calls included."""
    # start() checks ownership, validates and saves the question before anything streams, so
    # every refusal is an ordinary JSON error.
    answer_id = await runs.start(principal.user, conversation_id, body.content)
    events = streaming.follow(runs, principal.user, conversation_id, answer_id, _render)
    accept = request.headers.get("accept", "")
    if "text/event-stream" in accept:
        return StreamingResponse(
            streaming.as_sse(events), media_type="text/event-stream", headers=streaming.HEADERS
        )
    if "application/json" in accept and "ndjson" not in accept:
        final = await streaming.final_message(events)
        return JSONResponse(final)
    return StreamingResponse(
        streaming.as_ndjson(events), media_type="application/x-ndjson", headers=streaming.HEADERS
    )
