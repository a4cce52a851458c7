"""Messages: saving a question, decrypted views of a thread, the history the model sees."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.fernet import InvalidToken
from sqlalchemy import and_, delete, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from youworker.models import Conversation, Message, MessageStatus, ToolCall, User
from youworker.models.base import utcnow
from youworker.services.chat import titles as chat_titles
from youworker.services.chat.conversations import PAGE_MAX, check_owned, get_owned
from youworker.services.chat.display import title_from
from youworker.services.documents.citations import Citation, CitationBook
from youworker.services.encryption import MessageCipher, get_cipher
from youworker.services.errors import NotFound, ValidationFailed
from youworker.services.llm.base import ChatMessage, ToolCallRequest
from youworker.settings import get_settings


@dataclass(frozen=True)
class ToolCallView:
    id: str
    step: int
    name: str
    arguments: str
    result: str | None
    error: str | None
    ok: bool
    duration_ms: int | None


@dataclass(frozen=True)
class MessageView:
    """A decrypted message as the UI and API show it."""

    id: str
    role: str
    content: str
    thinking: str
    status: str
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: int | None
    ttft_ms: int | None
    error_code: str | None
    error_message: str | None
    created_at: datetime
    tool_calls: list[ToolCallView] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)


@dataclass(frozen=True)
class MessagePage:
    messages: list[MessageView]  # oldest first
    has_more: bool


def validate_user_text(text: str) -> str:
    limit = get_settings().chat.max_message_chars
    if not text.strip():
        raise ValidationFailed({"message": "Type a message first."})
    if len(text) > limit:
        raise ValidationFailed({"message": f"Messages can be at most {limit:,} characters."})
    return text


@dataclass(frozen=True)
class SavedQuestion:
    message: Message
    # Known to be the conversation's first message, so the model's history is this question
    # alone (False when not known: only an untitled conversation's messages are looked at).
    opens_conversation: bool


async def add_user_message(
    session: AsyncSession,
    actor: User,
    conversation_id: uuid.UUID,
    text: str,
    *,
    commit: bool = True,
) -> Message:
    """Save the user's message (before the model is called) and title a new conversation."""
    return (await add_question(session, actor, conversation_id, text, commit=commit)).message


async def add_question(
    session: AsyncSession,
    actor: User,
    conversation_id: uuid.UUID,
    text: str,
    *,
    commit: bool = True,
    known: Conversation | None = None,
) -> SavedQuestion:
    """`add_user_message`, also saying whether the message opens the conversation. `known` is
    the conversation as the caller read it (or created it) moments ago: it is not read again."""
    if known is None:
        conversation = await get_owned(session, actor, conversation_id)
    else:
        check_owned(actor, conversation_id, known)
        conversation = await session.merge(known, load=False)
    validate_user_text(text)
    # Only an untitled conversation needs a look at its messages (one query less on every
    # follow-up message).
    opens = conversation.title_enc is None and not await _has_messages(session, conversation.id)
    if opens:
        conversation.title_enc = chat_titles.sealed_title(title_from(text))
    message = Message(
        conversation_id=conversation.id,
        role="user",
        content_enc=get_cipher().encrypt(text),
        status=MessageStatus.COMPLETE,
        completed_at=utcnow(),
    )
    session.add(message)
    conversation.updated_at = utcnow()
    if commit:
        await session.commit()
    return SavedQuestion(message=message, opens_conversation=opens)


async def _has_messages(session: AsyncSession, conversation_id: uuid.UUID) -> bool:
    first = await session.scalar(
        select(col(Message.id)).where(col(Message.conversation_id) == conversation_id).limit(1)
    )
    return first is not None


def _tool_view(call: ToolCall) -> ToolCallView:
    cipher = get_cipher()
    return ToolCallView(
        id=str(call.id),
        step=call.step,
        name=call.name,
        arguments=cipher.readable(call.arguments_enc),
        result=cipher.readable_optional(call.result_enc),
        error=cipher.readable_optional(call.error_enc),
        ok=call.ok,
        duration_ms=call.duration_ms,
    )


def message_view(message: Message, tool_calls: list[ToolCall] | None = None) -> MessageView:
    cipher = get_cipher()
    return MessageView(
        id=str(message.id),
        role=message.role,
        content=cipher.readable(message.content_enc),
        thinking=cipher.readable_optional(message.thinking_enc) or "",
        status=message.status,
        model=message.model,
        prompt_tokens=message.prompt_tokens,
        completion_tokens=message.completion_tokens,
        latency_ms=message.latency_ms,
        ttft_ms=message.ttft_ms,
        error_code=message.error_code,
        error_message=message.error_message,
        created_at=message.created_at,
        tool_calls=[
            _tool_view(call) for call in sorted(tool_calls or [], key=lambda c: c.created_at)
        ],
        citations=_citations(cipher, message.citations_enc),
    )


def _citations(cipher: MessageCipher, token: str | None) -> list[Citation]:
    """The answer's sources; none when their key is gone (the text says it is unreadable)."""
    if token is None:
        return []
    try:
        return CitationBook.from_json(cipher.decrypt(token)).citations()
    except InvalidToken:
        return []


async def _views(session: AsyncSession, messages: list[Message]) -> list[MessageView]:
    ids = [m.id for m in messages if m.role == "assistant"]
    calls: dict[uuid.UUID, list[ToolCall]] = {}
    if ids:
        for call in await session.scalars(
            select(ToolCall).where(col(ToolCall.message_id).in_(ids))
        ):
            calls.setdefault(call.message_id, []).append(call)
    return [message_view(m, calls.get(m.id)) for m in messages]


async def list_messages(
    session: AsyncSession,
    actor: User,
    conversation_id: uuid.UUID,
    *,
    before: uuid.UUID | None = None,
    limit: int = 50,
) -> MessagePage:
    """The latest messages (or those before `before`), returned oldest first."""
    conversation = await get_owned(session, actor, conversation_id)
    return await messages_of(session, conversation, before=before, limit=limit)


async def messages_of(
    session: AsyncSession,
    conversation: Conversation,
    *,
    before: uuid.UUID | None = None,
    limit: int = 50,
) -> MessagePage:
    """A page of `conversation`'s messages; the caller has checked access."""
    limit = max(1, min(limit, PAGE_MAX))
    statement = select(Message).where(col(Message.conversation_id) == conversation.id)
    if before is not None:
        anchor = await session.get(Message, before)
        if anchor is None or anchor.conversation_id != conversation.id:
            raise NotFound("Message not found.")
        statement = statement.where(
            or_(
                col(Message.created_at) < anchor.created_at,
                and_(col(Message.created_at) == anchor.created_at, col(Message.id) < anchor.id),
            )
        )
    statement = statement.order_by(col(Message.created_at).desc(), col(Message.id).desc())
    rows = list(await session.scalars(statement.limit(limit + 1)))
    page = list(reversed(rows[:limit]))
    return MessagePage(messages=await _views(session, page), has_more=len(rows) > limit)


async def remove_last_answer(
    session: AsyncSession, actor: User, conversation_id: uuid.UUID
) -> bool:
    """Delete the latest message if it is an answer (for regenerate and retry)."""
    conversation = await get_owned(session, actor, conversation_id)
    last = await session.scalar(
        select(Message)
        .where(col(Message.conversation_id) == conversation.id)
        .order_by(col(Message.created_at).desc(), col(Message.id).desc())
        .limit(1)
    )
    if last is None or last.role != "assistant" or last.status == MessageStatus.STREAMING:
        return False
    await session.execute(delete(ToolCall).where(col(ToolCall.message_id) == last.id))
    await session.delete(last)
    await session.commit()
    return True


async def get_message(session: AsyncSession, actor: User, message_id: uuid.UUID) -> MessageView:
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound("Message not found.")
    await get_owned(session, actor, message.conversation_id)
    return (await _views(session, [message]))[0]


async def history_for_model(session: AsyncSession, conversation_id: uuid.UUID) -> list[ChatMessage]:
    """The recent conversation as the model sees it, tool rounds included (no access check)."""
    limit = get_settings().chat.history_messages
    rows = list(
        await session.scalars(
            select(Message)
            .where(
                col(Message.conversation_id) == conversation_id,
                col(Message.status) != MessageStatus.STREAMING,
            )
            .order_by(col(Message.created_at).desc(), col(Message.id).desc())
            .limit(limit)
        )
    )
    history: list[ChatMessage] = []
    for view in await _views(session, list(reversed(rows))):
        if view.role == "user":
            history.append(ChatMessage(role="user", content=view.content))
            continue
        for step in sorted({call.step for call in view.tool_calls}):
            calls = [c for c in view.tool_calls if c.step == step]
            history.append(
                ChatMessage(
                    role="assistant",
                    content="",
                    tool_calls=tuple(
                        ToolCallRequest(name=c.name, arguments=_loads(c.arguments)) for c in calls
                    ),
                )
            )
            history.extend(
                ChatMessage(role="tool", content=c.result or f"error: {c.error}", tool_name=c.name)
                for c in calls
            )
        if view.content:
            history.append(ChatMessage(role="assistant", content=view.content))
    return history


def _loads(arguments: str) -> dict[str, object]:
    try:
        value = json.loads(arguments)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
