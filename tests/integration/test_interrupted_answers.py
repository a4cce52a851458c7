"""An answer its reader stops says "Stopped"; one cut by a restart or crash says "Interrupted".

Real ChatRuns over the real `ollama` client against the test server's slow model.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_chat_checkpoints import streaming_answer
from tests.integration.test_chat_runs import wait_until
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
from youworker.state.chat.rows import message_row


@pytest.fixture
def slow_server() -> Iterator[OllamaTestServer]:
    with OllamaTestServer(config=ServerConfig(slow_tokens=10_000, tokens_per_second=50)) as srv:
        yield srv


@pytest.fixture
async def backend(slow_server: OllamaTestServer) -> AsyncIterator[OllamaBackend]:
    llm = OllamaBackend(slow_server.url, timeout=30)
    yield llm
    await llm.aclose()


def make_runs(backend: OllamaBackend) -> ChatRuns:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-slow"

    return ChatRuns(resolve, ToolRegistry(), checkpoints=Checkpoints(every_s=0.2))


async def saved(actor: User, message_id: uuid.UUID) -> chat.MessageView:
    async with session_scope() as fresh:
        return await chat.get_message(fresh, actor, message_id)


async def streaming(db: AsyncSession, owner: User, runs: ChatRuns) -> tuple[uuid.UUID, uuid.UUID]:
    conversation = await chat.create_conversation(db, owner)
    answer_id = await runs.start(owner, conversation.id, "A long story, please")
    await wait_until(runs, conversation.id, lambda s: bool(s.text))
    return conversation.id, answer_id


async def test_a_stopped_answer_says_stopped(
    db: AsyncSession, alice: User, backend: OllamaBackend
) -> None:
    runs = make_runs(backend)
    try:
        conversation_id, answer_id = await streaming(db, alice, runs)
        assert await runs.stop(alice, conversation_id)
    finally:
        await runs.shutdown()
    view = await saved(alice, answer_id)
    assert (view.status, view.error_code) == (MessageStatus.STOPPED, None)
    assert message_row(view).ended == "Stopped"


async def test_an_answer_cut_by_the_process_going_down_says_interrupted(
    db: AsyncSession, alice: User, backend: OllamaBackend
) -> None:
    runs = make_runs(backend)
    try:
        _, answer_id = await streaming(db, alice, runs)
    finally:
        await runs.shutdown()  # what a restart does to every answer still being written
    view = await saved(alice, answer_id)
    assert (view.status, view.error_code) == (MessageStatus.STOPPED, "interrupted")
    assert view.content.startswith("tok0 ")  # the text so far is kept
    assert message_row(view).ended == "Interrupted"


async def test_a_checkpointed_answer_recovered_at_startup_says_interrupted(
    db: AsyncSession, alice: User, backend: OllamaBackend
) -> None:
    # A worker died mid-answer: the answer is still "streaming" with its checkpointed text.
    answer_id = await streaming_answer(db, alice)
    async with session_scope() as session:
        message = await session.get(Message, answer_id)
        assert message is not None
        message.content_enc = get_cipher().encrypt("Half an answer")
        await session.commit()
    runs = make_runs(backend)  # the next start
    try:
        assert await runs.mark_interrupted() == 1
    finally:
        await runs.shutdown()
    view = await saved(alice, answer_id)
    assert view.content == "Half an answer"
    assert message_row(view).ended == "Interrupted"
