"""ChatRuns end to end: real OllamaBackend over HTTP to the test server, real tools, real DB."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from tests.ollama_server import MIDSTREAM_ERROR, PLAIN_REPLY, OllamaTestServer, ServerConfig
from youworker.db import session_scope
from youworker.models import Conversation, Message, MessageStatus, User
from youworker.services import chat
from youworker.services.chat import MessageView
from youworker.services.chat.runs import ChatRuns, RunSnapshot
from youworker.services.errors import Conflict, NotFound
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.tools.registry import ToolRegistry

RUN_BOUND_S = 30.0  # an upper bound on any one answer, not a performance threshold
SLOW_TOKENS = 10_000  # test-slow at 20 tokens/s: far longer than any test waits


@pytest.fixture
def server() -> Iterator[OllamaTestServer]:
    config = ServerConfig(slow_tokens=SLOW_TOKENS, tokens_per_second=20)
    with OllamaTestServer(config=config) as srv:
        yield srv


@pytest.fixture
async def backend(server: OllamaTestServer) -> AsyncIterator[OllamaBackend]:
    llm = OllamaBackend(server.url, timeout=30)
    yield llm
    await llm.aclose()


@pytest.fixture
async def runs(engine: object, backend: OllamaBackend) -> AsyncIterator[ChatRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-plain"

    chat_runs = ChatRuns(resolve, ToolRegistry())
    yield chat_runs
    await chat_runs.shutdown()


async def wait_until(
    runs: ChatRuns, conversation_id: uuid.UUID, done: Any, bound_s: float = RUN_BOUND_S
) -> RunSnapshot:
    """Follow the run like a browser tab does until `done(snapshot)` holds."""

    async def follow() -> RunSnapshot:
        while True:
            seen = runs.version(conversation_id)
            snapshot = runs.snapshot(conversation_id)
            if snapshot is not None and done(snapshot):
                return snapshot
            await runs.wait_for_change(conversation_id, seen, timeout_s=bound_s)

    return await asyncio.wait_for(follow(), bound_s)


async def finished(runs: ChatRuns, conversation_id: uuid.UUID) -> RunSnapshot:
    return await wait_until(runs, conversation_id, lambda s: s.finished)


async def messages(actor: User, conversation_id: uuid.UUID) -> list[MessageView]:
    """The stored conversation, read in a fresh session (not the test's cached objects)."""
    async with session_scope() as fresh:
        return (await chat.list_messages(fresh, actor, conversation_id, limit=100)).messages


async def new_chat(db: AsyncSession, owner: User, model: str = "") -> uuid.UUID:
    return (await chat.create_conversation(db, owner, model=model)).id


async def ask(
    runs: ChatRuns, owner: User, conversation_id: uuid.UUID, text: str | None
) -> RunSnapshot:
    await runs.start(owner, conversation_id, text)
    return await finished(runs, conversation_id)


def roles_and_content(request: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m.get("content", "")) for m in request["messages"]]


def offered_tools(request: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in request.get("tools") or []]


# --- saving -----------------------------------------------------------------------------------


async def test_user_message_is_saved_before_the_model_is_called(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    cid = await new_chat(db, alice, model="test-slow")
    answer_id = await runs.start(alice, cid, "Tell me a long story")
    # start() has committed both rows, and its task has not run yet: no request was sent.
    assert server.chat_requests() == []

    stored = await messages(alice, cid)
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "Tell me a long story", "complete"),
        ("assistant", "", "streaming"),
    ]
    assert stored[1].id == str(answer_id) and stored[1].model == "test-slow"

    await wait_until(runs, cid, lambda s: bool(s.text))
    (request,) = server.chat_requests()
    assert roles_and_content(request) == [("user", "Tell me a long story")]
    assert await runs.stop(alice, cid)


async def test_plain_answer_is_saved_complete_with_metrics(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    cid = await new_chat(db, alice)
    snapshot = await ask(runs, alice, cid, "Hello there, model")

    assert snapshot.status == "complete" and snapshot.text == PLAIN_REPLY
    assert snapshot.error_code is None and not runs.is_running(cid)
    question, answer = await messages(alice, cid)
    assert (question.role, question.content) == ("user", "Hello there, model")
    assert (answer.role, answer.content, answer.status) == ("assistant", PLAIN_REPLY, "complete")
    assert answer.model == "test-plain"
    assert answer.prompt_tokens == 3  # the test server counts the words it was sent
    assert answer.completion_tokens is not None and answer.completion_tokens > 1
    assert answer.latency_ms is not None and answer.latency_ms >= 0
    assert answer.ttft_ms is not None and 0 <= answer.ttft_ms <= answer.latency_ms
    assert answer.error_code is None and answer.error_message is None
    assert answer.tool_calls == []
    assert [r["model"] for r in server.chat_requests()] == ["test-plain"]


async def test_tool_call_is_saved_with_decrypted_arguments_and_result(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    cid = await new_chat(db, alice, model="test-tool")
    snapshot = await ask(runs, alice, cid, "What is 6*7?")

    assert snapshot.status == "complete"
    (card,) = snapshot.tools
    assert (card.name, card.status, card.output) == ("calculator", "ok", "42")
    _, answer = await messages(alice, cid)
    assert answer.status == "complete" and "42" in answer.content
    (call,) = answer.tool_calls
    assert call.name == "calculator" and call.ok and call.step == 0
    assert json.loads(call.arguments) == {"expression": "6*7"}
    assert call.result == "42" and call.error is None
    assert call.duration_ms is not None and call.duration_ms >= 0

    first, second = server.chat_requests()
    assert "calculator" in offered_tools(first)
    assert ("tool", "42") in roles_and_content(second)


async def test_two_tool_steps(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    cid = await new_chat(db, alice, model="test-two-tools")
    snapshot = await ask(runs, alice, cid, "Two sums please")

    assert snapshot.status == "complete"
    _, answer = await messages(alice, cid)
    assert answer.content == "First result: 42. Second result: 43."
    steps = [(c.step, json.loads(c.arguments), c.result, c.ok) for c in answer.tool_calls]
    assert steps == [
        (0, {"expression": "6*7"}, "42", True),
        (1, {"expression": "42+1"}, "43", True),
    ]
    assert len(server.chat_requests()) == 3


# --- failures ---------------------------------------------------------------------------------


async def test_midstream_error_keeps_the_partial_text(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice, model="test-midstream-error")
    snapshot = await ask(runs, alice, cid, "Start answering")

    assert snapshot.status == "error"
    _, answer = await messages(alice, cid)
    assert answer.status == "error" and answer.error_code == "backend"
    assert answer.error_message is not None and MIDSTREAM_ERROR in answer.error_message
    assert answer.content == "This answer will be cut"
    assert answer.content == snapshot.text


async def test_ollama_dying_midstream_keeps_the_partial_answer_and_retry_works(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice, model="test-hangup")
    snapshot = await ask(runs, alice, cid, "Start answering")

    assert snapshot.status == "error"
    question, answer = await messages(alice, cid)
    assert question.content == "Start answering"
    assert answer.status == "error" and answer.content == "This answer was cut off"
    assert answer.error_message

    await chat.set_model(db, alice, cid, "test-plain")  # Ollama is back
    assert await chat.remove_last_answer(db, alice, cid)  # Retry, as the button does
    retried = await ask(runs, alice, cid, None)
    assert retried.status == "complete"
    question, answer = await messages(alice, cid)
    assert question.content == "Start answering"
    assert (answer.status, answer.content) == ("complete", PLAIN_REPLY)


async def test_http_500_is_an_error_answer(db: AsyncSession, alice: User, runs: ChatRuns) -> None:
    cid = await new_chat(db, alice, model="test-500")
    snapshot = await ask(runs, alice, cid, "Anything")

    assert snapshot.status == "error" and snapshot.error_code == "backend"
    question, answer = await messages(alice, cid)
    assert question.status == "complete"  # the question survives the failure
    assert (answer.status, answer.error_code, answer.content) == ("error", "backend", "")
    assert answer.error_message


async def test_unknown_model_is_model_not_found(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice)
    await chat.set_model(db, alice, cid, "nope")
    snapshot = await ask(runs, alice, cid, "Hello?")

    assert snapshot.status == "error" and snapshot.error_code == "model_not_found"
    _, answer = await messages(alice, cid)
    assert answer.status == "error" and answer.error_code == "model_not_found"
    assert answer.model == "nope"
    assert answer.error_message is not None and '"nope"' in answer.error_message


# --- stopping and concurrency -----------------------------------------------------------------


async def test_stop_keeps_the_text_written_so_far(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice, model="test-slow")
    await runs.start(alice, cid, "Go slowly")
    seen = await wait_until(runs, cid, lambda s: "tok1 " in s.text)

    assert await runs.stop(alice, cid)

    final = runs.snapshot(cid)
    assert final is not None and final.status == "stopped" and not runs.is_running(cid)
    assert final.text.startswith(seen.text)
    assert final.text != " ".join(f"tok{i}" for i in range(SLOW_TOKENS)) + " "
    _, answer = await messages(alice, cid)
    assert answer.status == "stopped" and answer.content == final.text
    assert answer.error_code is None
    assert not await runs.stop(alice, cid)  # nothing left to stop


async def test_stop_right_after_start_frees_the_conversation(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice, model="test-slow")
    await runs.start(alice, cid, "Stop me at once")
    assert await runs.stop(alice, cid)  # before the answer's task ran a single step
    assert not runs.is_running(cid)
    _, answer = await messages(alice, cid)
    assert answer.status == "stopped"

    await chat.set_model(db, alice, cid, "test-plain")
    snapshot = await ask(runs, alice, cid, None)
    assert snapshot.status == "complete" and snapshot.text == PLAIN_REPLY


async def test_second_start_while_running_is_a_conflict(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice, model="test-slow")
    await runs.start(alice, cid, "First question")
    with pytest.raises(Conflict):
        await runs.start(alice, cid, "Second question")
    assert [m.content for m in await messages(alice, cid) if m.role == "user"] == ["First question"]
    assert await runs.stop(alice, cid)

    await chat.set_model(db, alice, cid, "test-plain")
    snapshot = await ask(runs, alice, cid, None)  # free again once stopped
    assert snapshot.status == "complete" and snapshot.text == PLAIN_REPLY


async def test_two_tabs_starting_at_once_save_one_question(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice, model="test-slow")
    outcomes = await asyncio.gather(
        runs.start(alice, cid, "From tab one"),
        runs.start(alice, cid, "From tab two"),
        return_exceptions=True,
    )
    (winner,) = [o for o in outcomes if isinstance(o, uuid.UUID)]
    assert [type(o) for o in outcomes if not isinstance(o, uuid.UUID)] == [Conflict]
    assert await runs.stop(alice, cid)

    stored = await messages(alice, cid)
    # The losing tab saved nothing: no second question, no answer left "streaming" forever.
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "stopped")]
    assert stored[1].id == str(winner)


async def test_another_user_can_neither_stop_nor_start(
    db: AsyncSession, alice: User, bob: User, runs: ChatRuns
) -> None:
    cid = await new_chat(db, alice, model="test-slow")
    await runs.start(alice, cid, "Mine")
    await wait_until(runs, cid, lambda s: bool(s.text))

    with pytest.raises(NotFound):
        await runs.stop(bob, cid)
    with pytest.raises(NotFound):  # not Conflict: that would confirm the conversation exists
        await runs.start(bob, cid, "Bob's question")
    assert runs.is_running(cid)
    assert await runs.stop(alice, cid)

    with pytest.raises(NotFound):
        await runs.start(bob, cid, "Bob's question")
    assert [m.content for m in await messages(alice, cid) if m.role == "user"] == ["Mine"]
    assert not runs.is_running(cid)


# --- history ----------------------------------------------------------------------------------


async def test_regenerate_replaces_the_answer_in_the_history(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    cid = await new_chat(db, alice, model="test-scripted")
    server.script_reply("The first attempt.")
    server.script_reply("The second attempt.")
    await ask(runs, alice, cid, "Say something")

    assert await chat.remove_last_answer(db, alice, cid)
    snapshot = await ask(runs, alice, cid, None)

    assert snapshot.status == "complete" and snapshot.text == "The second attempt."
    stored = await messages(alice, cid)
    assert [(m.role, m.content) for m in stored] == [
        ("user", "Say something"),
        ("assistant", "The second attempt."),
    ]
    _, regenerated = server.chat_requests()
    assert roles_and_content(regenerated) == [("user", "Say something")]
    assert "The first attempt." not in json.dumps(regenerated)


async def test_history_replays_tool_rounds(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    cid = await new_chat(db, alice, model="test-tool")
    await ask(runs, alice, cid, "What is 6*7?")
    await chat.set_model(db, alice, cid, "test-plain")
    await ask(runs, alice, cid, "Thanks, and now?")

    last = server.chat_requests()[-1]
    assert last["model"] == "test-plain"
    history = last["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    call_round = history[1]
    assert call_round["tool_calls"] == [
        {"function": {"name": "calculator", "arguments": {"expression": "6*7"}}}
    ]
    assert (history[2]["content"], history[2]["tool_name"]) == ("42", "calculator")
    assert history[3]["content"] == "The result is 42."
    assert history[4]["content"] == "Thanks, and now?"


# --- disabled tools ---------------------------------------------------------------------------


async def test_disabled_tool_is_not_offered(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    cid = await new_chat(db, alice, model="test-tool")
    await chat.set_disabled_tools(db, alice, cid, ["calculator"])
    await ask(runs, alice, cid, "What is 6*7?")

    first = server.chat_requests()[0]
    assert offered_tools(first)  # other tools are still offered
    assert "calculator" not in offered_tools(first)
    _, answer = await messages(alice, cid)
    assert all(call.name != "calculator" for call in answer.tool_calls)


async def test_disabled_tool_called_anyway_is_refused(
    db: AsyncSession, alice: User, runs: ChatRuns, server: OllamaTestServer
) -> None:
    every_tool = [spec.name for spec in ToolRegistry().specs()]
    assert "calculator" in every_tool
    cid = await new_chat(db, alice, model="test-tool")
    await chat.set_disabled_tools(db, alice, cid, every_tool)
    snapshot = await ask(runs, alice, cid, "What is 6*7?")

    first = server.chat_requests()[0]
    assert offered_tools(first) == []  # nothing offered, yet test-tool calls the calculator
    assert snapshot.status == "complete"
    _, answer = await messages(alice, cid)
    (call,) = answer.tool_calls
    assert call.name == "calculator" and not call.ok
    assert call.result is None and call.error is not None and "disabled" in call.error
    assert "42" not in answer.content


async def test_conversation_row_is_touched_when_the_answer_ends(
    db: AsyncSession, alice: User, runs: ChatRuns
) -> None:
    older = await new_chat(db, alice)
    newer = await new_chat(db, alice)
    await ask(runs, alice, older, "Bring me to the top")
    async with session_scope() as fresh:
        ordered = await fresh.scalars(
            select(Conversation.id)
            .where(col(Conversation.owner_id) == alice.id)
            .order_by(col(Conversation.updated_at).desc())
        )
        assert list(ordered) == [older, newer]
        statuses = await fresh.scalars(
            select(Message.status).where(col(Message.conversation_id) == older)
        )
        assert set(statuses) == {MessageStatus.COMPLETE}
