"""OllamaBackend against the Ollama-protocol test server, over real HTTP with the real client."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing

import pytest

from tests.ollama_server import (
    MIDSTREAM_ERROR,
    PLAIN_REPLY,
    SERVER_ERROR,
    OllamaTestServer,
    ServerConfig,
    embed_vector,
)
from youworker.services.llm.base import ChatChunk, ChatMessage, LLMError, ToolSpec
from youworker.services.llm.ollama import EMBED_BATCH_SIZE, OllamaBackend

CALCULATOR = ToolSpec(
    name="calculator",
    description="Evaluate an arithmetic expression.",
    parameters={
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
)
QUESTION = [ChatMessage(role="user", content="What is 6*7?")]


@pytest.fixture(scope="module")
def server() -> Iterator[OllamaTestServer]:
    with OllamaTestServer(config=ServerConfig(slow_tokens=300, tokens_per_second=5000)) as srv:
        yield srv


@pytest.fixture
async def backend(server: OllamaTestServer) -> AsyncIterator[OllamaBackend]:
    llm = OllamaBackend(server.url, timeout=30)
    yield llm
    await llm.aclose()


async def collect(
    llm: OllamaBackend, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
) -> list[ChatChunk]:
    return [chunk async for chunk in llm.stream_chat(model, messages, tools)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_plain_reply_streams_in_several_chunks(backend: OllamaBackend) -> None:
    chunks = await collect(backend, "test-plain", QUESTION)

    content = [c.content for c in chunks if c.content]
    assert len(content) > 3
    assert "".join(content) == PLAIN_REPLY
    final = chunks[-1]
    assert final.done and final.done_reason == "stop"
    assert final.usage is not None and final.usage.completion_tokens == len(content)
    assert final.usage.prompt_tokens > 0
    assert not any(c.done for c in chunks[:-1])


async def test_tool_call_then_answer(backend: OllamaBackend, server: OllamaTestServer) -> None:
    first = await collect(backend, "test-tool", QUESTION, [CALCULATOR])
    calls = [call for chunk in first for call in chunk.tool_calls]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "calculator"
    assert call.arguments == {"expression": "6*7"} and isinstance(call.arguments, dict)
    assert call.id
    assert first[-1].done

    conversation = [
        *QUESTION,
        ChatMessage(role="assistant", content="", tool_calls=(call,)),
        ChatMessage(role="tool", content="42", tool_name="calculator"),
    ]
    second = await collect(backend, "test-tool", conversation, [CALCULATOR])

    assert not any(chunk.tool_calls for chunk in second)
    assert "42" in "".join(c.content for c in second)
    sent = server.chat_requests()[-1]
    assert sent["tools"][0]["function"]["name"] == "calculator"
    assert sent["messages"][1]["tool_calls"] == [
        {"function": {"name": "calculator", "arguments": {"expression": "6*7"}}}
    ]
    assert sent["messages"][2] == {"role": "tool", "content": "42", "tool_name": "calculator"}


async def test_two_sequential_tool_steps(backend: OllamaBackend) -> None:
    conversation = list(QUESTION)
    results = iter(["42", "43"])
    expressions = []
    for _ in range(3):
        chunks = await collect(backend, "test-two-tools", conversation, [CALCULATOR])
        calls = [call for chunk in chunks for call in chunk.tool_calls]
        if not calls:
            break
        expressions.append(calls[0].arguments["expression"])
        conversation += [
            ChatMessage(role="assistant", content="", tool_calls=tuple(calls)),
            ChatMessage(role="tool", content=next(results), tool_name=calls[0].name),
        ]
    answer = "".join(c.content for c in chunks)

    assert expressions == ["6*7", "42+1"]
    assert "42" in answer and "43" in answer


async def test_midstream_error_raises_after_partial_content(backend: OllamaBackend) -> None:
    received: list[str] = []
    with pytest.raises(LLMError) as caught:
        async for chunk in backend.stream_chat("test-midstream-error", QUESTION):
            received.append(chunk.content)

    assert "".join(received).startswith("This answer")
    assert caught.value.code == "backend"
    assert MIDSTREAM_ERROR in caught.value.message


async def test_http_500_is_a_backend_error(backend: OllamaBackend) -> None:
    with pytest.raises(LLMError) as caught:
        await collect(backend, "test-500", QUESTION)

    assert caught.value.code == "backend"
    assert SERVER_ERROR in caught.value.message


async def test_unknown_model_is_model_not_found(backend: OllamaBackend) -> None:
    with pytest.raises(LLMError) as caught:
        await collect(backend, "no-such-model", QUESTION)
    with pytest.raises(LLMError) as caught_embed:
        await backend.embed("no-such-embedder", ["text"])

    assert caught.value.code == "model_not_found"
    assert "no-such-model" in caught.value.message
    assert caught_embed.value.code == "model_not_found"
    assert "no-such-embedder" in caught_embed.value.message


async def test_nothing_listening_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    llm = OllamaBackend(url, timeout=5)
    try:
        with pytest.raises(LLMError) as caught:
            await collect(llm, "test-plain", QUESTION)
        with pytest.raises(LLMError) as caught_list:
            await llm.list_models()
    finally:
        await llm.aclose()

    assert caught.value.code == "unavailable"
    assert url in caught.value.message
    assert caught_list.value.code == "unavailable"


async def test_silent_server_is_a_timeout() -> None:
    config = ServerConfig(slow_tokens=3, tokens_per_second=0.2)  # 5 s between tokens
    with OllamaTestServer(config=config) as slow:
        llm = OllamaBackend(slow.url, timeout=0.25)
        received: list[ChatChunk] = []
        try:
            with pytest.raises(LLMError) as caught:
                async for chunk in llm.stream_chat("test-slow", QUESTION):
                    received.append(chunk)
        finally:
            await llm.aclose()

    assert [c.content for c in received] == ["tok0 "]
    assert caught.value.code == "timeout"


async def test_slow_stream_yields_every_token(backend: OllamaBackend) -> None:
    chunks = await collect(backend, "test-slow", QUESTION)

    assert len([c for c in chunks if c.content]) == 300
    assert chunks[-1].done and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 300


async def test_stopping_early_closes_the_stream(backend: OllamaBackend) -> None:
    async with aclosing(backend.stream_chat("test-slow", QUESTION)) as stream:
        async for chunk in stream:
            assert chunk.content == "tok0 "
            break

    assert (await collect(backend, "test-plain", QUESTION))[-1].done


async def test_echo_returns_the_exact_text(backend: OllamaBackend) -> None:
    payload = "<img src=x onerror=alert(1)> and **markdown**"
    chunks = await collect(backend, "test-echo", [ChatMessage(role="user", content=payload)])

    assert "".join(c.content for c in chunks) == payload


async def test_thinking_is_surfaced(backend: OllamaBackend) -> None:
    chunks = await collect(backend, "test-think", QUESTION)

    thinking = "".join(c.thinking for c in chunks)
    assert thinking.startswith("The user wants an answer")
    assert "".join(c.content for c in chunks) == "Thought it through: 42."
    first_content = next(i for i, c in enumerate(chunks) if c.content)
    assert all(not c.thinking for c in chunks[first_content:])


async def test_list_models(backend: OllamaBackend) -> None:
    models = await backend.list_models()

    names = [m.name for m in models]
    assert "test-plain" in names and "test-embed" in names
    assert all(m.size_bytes == 1_000_000 for m in models)
    assert models[0].details["family"] == "test"


async def test_embed_batch_returns_one_vector_per_text(
    backend: OllamaBackend, server: OllamaTestServer
) -> None:
    texts = [f"text number {i}" for i in range(2 * EMBED_BATCH_SIZE + 2)]
    before = len([p for p, _ in server.requests if p == "/api/embed"])

    vectors = await backend.embed("test-embed", texts)

    assert len(vectors) == len(texts)
    assert vectors[0] == pytest.approx(embed_vector(texts[0], 8))
    assert vectors[-1] == pytest.approx(embed_vector(texts[-1], 8))
    assert len([p for p, _ in server.requests if p == "/api/embed"]) - before == 3
    assert await backend.embed("test-embed", []) == []
