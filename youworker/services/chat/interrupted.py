"""Answers left "streaming" by a worker that died: found, and saved as stopped (`interrupted`)."""

from __future__ import annotations

import uuid

from sqlalchemy import update
from sqlmodel import col, select

from youworker.db import retry_when_locked, rows_affected, session_scope
from youworker.models import Message, MessageStatus
from youworker.models.base import utcnow
from youworker.services.chat.snapshots import RunSnapshot

INTERRUPTED = "interrupted"


async def streaming_answers() -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(message id, conversation id, model) of every answer saved as still being written."""
    async with session_scope() as db:
        rows = await db.execute(
            select(Message.id, Message.conversation_id, Message.model).where(
                col(Message.status) == MessageStatus.STREAMING
            )
        )
        return [
            (message_id, conversation_id, model or "")
            for message_id, conversation_id, model in rows
        ]


async def save_interrupted(message_id: uuid.UUID) -> bool:
    """Only while it is still streaming: an answer that ended meanwhile keeps its status."""

    async def save() -> int:
        async with session_scope() as db:
            result = await db.execute(
                update(Message)
                .where(col(Message.id) == message_id)
                .where(col(Message.status) == MessageStatus.STREAMING)
                .values(status=MessageStatus.STOPPED, error_code=INTERRUPTED, completed_at=utcnow())
            )
            await db.commit()
        return rows_affected(result)

    return await retry_when_locked(save) == 1


def interrupted_snapshot(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    model: str,
    previous: RunSnapshot | None,
    version: int,
) -> RunSnapshot:
    """What followers see: the answer as far as they had it, now stopped."""
    return RunSnapshot(
        conversation_id=str(conversation_id),
        message_id=str(message_id),
        model=model,
        text=previous.text if previous else "",
        thinking=previous.thinking if previous else "",
        tools=previous.tools if previous else (),
        status=MessageStatus.STOPPED,
        error_code=INTERRUPTED,
        error_message=None,
        version=version,
    )
