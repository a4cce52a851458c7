"""The one writer of answer rows: every change to an assistant message while and after the model
writes it happens here. An answer is opened (status `streaming`, with the question it answers),
checkpointed while it streams, finished with its status, or marked interrupted when the worker
writing it died. Each write is one transaction, retried as a whole when SQLite is busy.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Table, bindparam, update
from sqlmodel import col, select

from youworker.db import retry_when_locked, rows_affected, session_scope
from youworker.models import Conversation, Message, MessageStatus, ToolCall, User
from youworker.models.base import utcnow
from youworker.services.chat.interrupted import INTERRUPTED
from youworker.services.chat.messages import add_question, history_for_model
from youworker.services.chat.run_state import Run
from youworker.services.encryption import get_cipher
from youworker.services.llm.base import ChatMessage

ERROR_MESSAGE_MAX_CHARS = 500
_MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
# Only an answer still streaming: a checkpoint that lands after the answer's final save (the
# two can overlap) must not put back a shorter text.
_SAVE_TEXT = (
    update(_MESSAGES)
    .where(
        _MESSAGES.c.id == bindparam("message_id"),
        _MESSAGES.c.status == MessageStatus.STREAMING,
    )
    .values(content_enc=bindparam("text_enc"))
)


async def open_answer(
    actor: User,
    conversation: Conversation,
    question: str | None,
    model: str,
) -> tuple[Message, list[ChatMessage]]:
    """Save the question (if any) and the empty answer in one commit; the model's history.

    `conversation` is owned by `actor`, as the caller checked moments ago: not read again."""

    async def save() -> tuple[Message, list[ChatMessage]]:
        async with session_scope() as db:
            opening: list[ChatMessage] = []
            if question is not None:
                saved = await add_question(
                    db, actor, conversation.id, question, commit=False, known=conversation
                )
                if saved.opens_conversation:
                    opening = [ChatMessage(role="user", content=question)]
            answer = Message(
                conversation_id=conversation.id,
                role="assistant",
                content_enc=get_cipher().encrypt(""),
                status=MessageStatus.STREAMING,
                model=model,
            )
            db.add(answer)
            await db.commit()
            # A first question is the whole history: nothing to read back.
            return answer, opening or await history_for_model(db, conversation.id)

    return await retry_when_locked(save)


async def checkpoint(texts: dict[uuid.UUID, str]) -> None:
    """The latest text of answers still streaming, in one transaction."""
    cipher = get_cipher()
    rows = [
        {"message_id": message_id, "text_enc": cipher.encrypt(text)}
        for message_id, text in texts.items()
    ]

    async def save() -> None:
        async with session_scope() as db:
            await db.execute(_SAVE_TEXT, rows)
            await db.commit()

    await retry_when_locked(save)


async def finish_answer(run: Run, elapsed_ms: int) -> None:
    """Save the answer as it ended (text, status, usage, tool calls, `elapsed_ms` from start
    to end) and touch its conversation, so the list shows it first."""
    cipher = get_cipher()

    async def save() -> None:
        async with session_scope() as db:
            message = await db.get(Message, run.message_id)
            if message is not None:
                message.content_enc = cipher.encrypt(run.text)
                message.thinking_enc = cipher.encrypt(run.thinking) if run.thinking else None
                message.status = run.status
                message.citations_enc = (
                    cipher.encrypt(run.citations.to_json()) if len(run.citations) else None
                )
                message.prompt_tokens = run.usage.prompt_tokens or None
                message.completion_tokens = run.usage.completion_tokens or None
                message.latency_ms = elapsed_ms
                message.ttft_ms = run.first_token_ms
                message.error_code = run.error_code
                message.error_message = (run.error_message or "")[:ERROR_MESSAGE_MAX_CHARS] or None
                message.completed_at = utcnow()
                for card in run.tools:
                    ok = card.status == "ok"
                    db.add(
                        ToolCall(
                            message_id=run.message_id,
                            step=card.step,
                            name=card.name,
                            arguments_enc=cipher.encrypt(card.arguments),
                            result_enc=cipher.encrypt(card.output) if ok else None,
                            error_enc=None if ok else cipher.encrypt(card.error or "stopped"),
                            ok=ok,
                            duration_ms=card.duration_ms,
                        )
                    )
            await db.execute(
                update(Conversation)
                .where(col(Conversation.id) == run.conversation_id)
                .values(updated_at=utcnow())
            )
            await db.commit()

    await retry_when_locked(save)


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


async def mark_interrupted(message_id: uuid.UUID) -> bool:
    """Save an answer whose worker died as stopped (`interrupted`); only while it is still
    streaming: an answer that ended meanwhile keeps its status."""

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
