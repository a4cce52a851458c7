"""Answers still streaming are saved every period, all of a worker's in one transaction, and a
late checkpoint never shortens an answer that has ended."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.ollama_server import OllamaTestServer, ServerConfig
from youworker.db import session_scope
from youworker.models import Message, MessageStatus, User
from youworker.services import chat
from youworker.services.chat.checkpoints import Checkpoints
from youworker.services.chat.runs import ChatRuns
from youworker.services.encryption import get_cipher
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.tools.registry import ToolRegistry

RUN_BOUND_S = 30.0  # an upper bound on the test, not a performance threshold


async def streaming_answer(db: AsyncSession, owner: User) -> uuid.UUID:
    conversation = await chat.create_conversation(db, owner)
    answer = Message(
        conversation_id=conversation.id,
        role="assistant",
        content_enc=get_cipher().encrypt(""),
        status=MessageStatus.STREAMING,
    )
    db.add(answer)
    await db.commit()
    return answer.id


async def stored(message_id: uuid.UUID) -> tuple[str, str]:
    """(status, text) as saved, read in a fresh session."""
    async with session_scope() as fresh:
        message = await fresh.get(Message, message_id)
        assert message is not None
        return message.status, get_cipher().decrypt(message.content_enc)


async def test_one_flush_saves_every_answer_s_latest_text(db: AsyncSession, alice: User) -> None:
    answers = [await streaming_answer(db, alice) for _ in range(3)]
    checkpoints = Checkpoints(every_s=3600)  # flushed by hand here
    for index, message_id in enumerate(answers):
        checkpoints.track(message_id)
        checkpoints.note(message_id, f"first {index}")
        checkpoints.note(message_id, f"first {index} and more")

    assert await checkpoints.flush() == 3
    assert [await stored(m) for m in answers] == [
        ("streaming", f"first {i} and more") for i in range(3)
    ]
    assert await checkpoints.flush() == 0  # nothing new since
    await checkpoints.close()


async def test_a_late_checkpoint_never_shortens_an_ended_answer(
    db: AsyncSession, alice: User
) -> None:
    message_id = await streaming_answer(db, alice)
    checkpoints = Checkpoints(every_s=3600)
    checkpoints.track(message_id)
    checkpoints.note(message_id, "partial")
    # The answer's final save lands first (the two can overlap on a busy worker).
    async with session_scope() as other:
        message = await other.get(Message, message_id)
        assert message is not None
        message.content_enc = get_cipher().encrypt("partial and the end")
        message.status = MessageStatus.COMPLETE
        await other.commit()

    await checkpoints.flush()

    assert await stored(message_id) == ("complete", "partial and the end")
    await checkpoints.close()


async def test_an_ended_answer_is_no_longer_checkpointed(db: AsyncSession, alice: User) -> None:
    message_id = await streaming_answer(db, alice)
    checkpoints = Checkpoints(every_s=3600)
    checkpoints.track(message_id)
    checkpoints.note(message_id, "partial")
    checkpoints.done(message_id)
    checkpoints.note(message_id, "after the end")

    assert await checkpoints.flush() == 0
    assert await stored(message_id) == ("streaming", "")
    await checkpoints.close()


@pytest.fixture
def slow_server() -> Iterator[OllamaTestServer]:
    with OllamaTestServer(config=ServerConfig(slow_tokens=10_000, tokens_per_second=50)) as srv:
        yield srv


@pytest.fixture
async def runs(engine: object, slow_server: OllamaTestServer) -> AsyncIterator[ChatRuns]:
    backend = OllamaBackend(slow_server.url, timeout=30)

    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-slow"

    chat_runs = ChatRuns(resolve, ToolRegistry(), checkpoints=Checkpoints(every_s=0.2))
    yield chat_runs
    await chat_runs.shutdown()
    await backend.aclose()


async def test_a_streaming_answer_is_saved_while_it_streams(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    conversation = await chat.create_conversation(db, alice)
    answer_id = await runs.start(alice, conversation.id, "A long story, please")

    async def saved_so_far() -> str:
        while True:
            seen = runs.version(conversation.id)
            status, text = await stored(answer_id)
            if text:
                assert status == "streaming"
                return text
            await runs.wait_for_change(conversation.id, seen, timeout_s=RUN_BOUND_S)

    text = await asyncio.wait_for(saved_so_far(), RUN_BOUND_S)
    live = runs.snapshot(conversation.id)
    assert live is not None and not live.finished
    assert text.startswith("tok0 ") and live.text.startswith(text)
    assert await runs.stop(alice, conversation.id)
    status, final = await stored(answer_id)
    assert status == "stopped" and final.startswith(text)
