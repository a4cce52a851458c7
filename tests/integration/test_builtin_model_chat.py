"""A newcomer's first messages on the built-in model, with the app's real tool set (issue 16).

The first chat message on a fresh install crashed the server: llama.cpp segfaulted sampling
with the grammar built from the real `search_documents` schema. The backend tests used tool
specs of their own, so nothing caught it. These tests run ChatRuns on the real child-process
backend with exactly the tools a new installation offers.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.db import session_scope
from youworker.models import User
from youworker.services import chat
from youworker.services.chat.runs import ChatRuns, RunSnapshot
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.embedded import CRASHED, MODEL_NAME, EmbeddedBackend
from youworker.services.runtime import build_tool_registry
from youworker.services.tools.registry import ToolRegistry
from youworker.settings import load_settings

from .test_embedded_backend import _skip_reason

pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")

ANSWER_BOUND_S = 240.0  # an upper bound on one answer on a loaded 2-core machine, not a target
# (question, the tool the question names: the built-in model calls tools only when named)
NEWCOMER_QUESTIONS = [
    ("Hello! What can you do?", None),
    ("What is 12*7? Use the calculator.", "calculator"),
    ("What time is it? Use current_datetime.", "current_datetime"),
    ("Search my documents for the vacation policy.", "search_documents"),
]


@pytest.fixture
def registry() -> ToolRegistry:
    tools = build_tool_registry(load_settings())
    # Nothing is switched off on a new installation: the default set is every tool.
    assert [spec.name for spec in tools.specs()] == [tool.name for tool in tools.tools()]
    assert {"current_datetime", "calculator", "search_documents"} <= {s.name for s in tools.specs()}
    return tools


@pytest.fixture
async def backend() -> AsyncIterator[EmbeddedBackend]:
    llm = EmbeddedBackend(max_tokens=64, restart_backoff=(0.05,))
    yield llm
    await llm.aclose()


@pytest.fixture
async def runs(
    engine: object, backend: EmbeddedBackend, registry: ToolRegistry
) -> AsyncIterator[ChatRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, MODEL_NAME

    chat_runs = ChatRuns(resolve, registry)
    yield chat_runs
    await chat_runs.shutdown()


async def until(runs: ChatRuns, conversation_id: uuid.UUID, done: object) -> RunSnapshot:
    """Follow the answer like a tab does until `done(snapshot)` holds."""

    async def follow() -> RunSnapshot:
        while True:
            seen = runs.version(conversation_id)
            snapshot = runs.snapshot(conversation_id)
            if snapshot is not None and done(snapshot):  # type: ignore[operator]
                return snapshot
            await runs.wait_for_change(conversation_id, seen, timeout_s=ANSWER_BOUND_S)

    return await asyncio.wait_for(follow(), ANSWER_BOUND_S)


@pytest.mark.parametrize(("question", "tool"), NEWCOMER_QUESTIONS)
async def test_first_messages_with_the_default_tools_complete(
    db: AsyncSession,
    alice: User,
    runs: ChatRuns,
    backend: EmbeddedBackend,
    question: str,
    tool: str | None,
) -> None:
    conversation = await chat.create_conversation(db, alice)

    await runs.start(alice, conversation.id, question)
    answer = await until(runs, conversation.id, lambda s: s.finished)

    assert (answer.status, answer.error_message) == ("complete", None)
    assert answer.text.strip()
    assert backend.crashes == 0
    assert [(card.name, card.status) for card in answer.tools] == ([(tool, "ok")] if tool else [])


async def test_a_crash_fails_one_answer_with_retry_and_the_server_goes_on(
    db: AsyncSession, alice: User, runs: ChatRuns, backend: EmbeddedBackend
) -> None:
    conversation = await chat.create_conversation(db, alice)
    await runs.start(alice, conversation.id, "Write a long story about a dragon.")
    await until(runs, conversation.id, lambda s: bool(s.text))
    crashed_pid = backend.pid
    assert crashed_pid is not None and crashed_pid != os.getpid()

    os.kill(crashed_pid, signal.SIGSEGV)
    failed = await until(runs, conversation.id, lambda s: s.finished)

    assert (failed.status, failed.error_message) == ("error", CRASHED)
    # Retry, as the page's button does: the answer is replaced by one from a new child.
    async with session_scope() as fresh:
        await chat.remove_last_answer(fresh, alice, conversation.id)
    await runs.start(alice, conversation.id, None)
    retried = await until(runs, conversation.id, lambda s: s.finished and s.status != "error")
    assert retried.status == "complete" and retried.text.strip()
    assert backend.pid not in (None, crashed_pid) and backend.crashes == 1
