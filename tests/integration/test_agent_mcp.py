"""The agent loop calling real MCP tools (tests/mcp_server.py) through the real registry."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ollama_server import OllamaTestServer
from tests.ollama_server import ServerConfig as ModelConfig
from youworker.services.chat.agent import (
    AgentConfig,
    AgentEvent,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnFinished,
    run_agent,
)
from youworker.services.llm.base import ChatMessage
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.mcp import McpManager, ServerConfig, namespaced_name
from youworker.services.tools.base import ToolContext
from youworker.services.tools.registry import ToolRegistry

SERVER_SCRIPT = str(Path(__file__).resolve().parent.parent / "mcp_server.py")
CTX = ToolContext(user_id="u1", conversation_id="c1")
ADD = namespaced_name("test", "add")
FAIL = namespaced_name("test", "fail")
SLOW = namespaced_name("test", "slow")
QUESTION = [ChatMessage(role="user", content="Please use the tools.")]


@pytest.fixture
async def registry() -> AsyncIterator[ToolRegistry]:
    manager = McpManager(connect_timeout_s=20, call_timeout_s=20, retry_after_s=3600)
    config = ServerConfig(
        name="test", transport="stdio", command=sys.executable, args=(SERVER_SCRIPT,)
    )
    try:
        (status,) = await manager.sync([config])
        assert status.status == "ok", status.error
        yield ToolRegistry(mcp=manager, default_timeout_s=20)
    finally:
        await manager.aclose()


@pytest.fixture
def model_config() -> ModelConfig:
    return ModelConfig()


@pytest.fixture
def server(model_config: ModelConfig) -> Iterator[OllamaTestServer]:
    with OllamaTestServer(config=model_config) as srv:
        yield srv


@pytest.fixture
async def backend(server: OllamaTestServer) -> AsyncIterator[OllamaBackend]:
    llm = OllamaBackend(server.url, timeout=30)
    yield llm
    await llm.aclose()


async def run(
    backend: OllamaBackend, registry: ToolRegistry, model: str, **config: Any
) -> list[AgentEvent]:
    agent_config = AgentConfig(model=model, **config)
    return [
        event async for event in run_agent(backend, QUESTION, registry, set(), CTX, agent_config)
    ]


def text_of(events: list[AgentEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def offered(request: dict[str, Any]) -> list[str]:
    return [tool["function"]["name"] for tool in request.get("tools") or []]


@pytest.mark.parametrize("model_config", [ModelConfig(tool_steps=[(ADD, {"a": 2, "b": 3})])])
async def test_agent_calls_an_mcp_tool(
    backend: OllamaBackend, registry: ToolRegistry, server: OllamaTestServer
) -> None:
    events = await run(backend, registry, "test-tool")

    (started,) = [e for e in events if isinstance(e, ToolStarted)]
    (done,) = [e for e in events if isinstance(e, ToolFinished)]
    assert (started.name, started.arguments, started.step) == (ADD, {"a": 2, "b": 3}, 0)
    assert done.call_id == started.call_id
    assert (done.ok, done.output, done.error) == (True, "5", "")
    assert events.index(started) < events.index(done)
    assert text_of(events) == "The result is 5."
    assert "5" in text_of(events)
    finished = events[-1]
    assert isinstance(finished, TurnFinished) and finished.steps == 2
    assert finished.usage.completion_tokens > 0

    first, second = server.chat_requests()
    assert ADD in offered(first) and "calculator" in offered(first)
    tool_message = second["messages"][-1]
    assert (tool_message["role"], tool_message["content"], tool_message["tool_name"]) == (
        "tool",
        "5",
        ADD,
    )


@pytest.mark.parametrize("model_config", [ModelConfig(tool_steps=[(FAIL, {})])])
async def test_failing_mcp_tool_goes_back_to_the_model(
    backend: OllamaBackend, registry: ToolRegistry, server: OllamaTestServer
) -> None:
    events = await run(backend, registry, "test-tool")

    (done,) = [e for e in events if isinstance(e, ToolFinished)]
    assert not done.ok and done.output == ""
    assert "this tool always fails" in done.error
    assert isinstance(events[-1], TurnFinished)
    assert "this tool always fails" in text_of(events)  # the model was told and answered
    tool_message = server.chat_requests()[-1]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert tool_message["content"].startswith("Tool error:")


@pytest.mark.parametrize(
    "model_config",
    [ModelConfig(tool_steps=[(ADD, {"a": 2, "b": 3}), (ADD, {"a": 5, "b": 5})])],
)
async def test_last_step_offers_no_tools(
    backend: OllamaBackend, registry: ToolRegistry, server: OllamaTestServer
) -> None:
    events = await run(backend, registry, "test-two-tools", max_steps=2)

    requests = server.chat_requests()
    assert len(requests) == 2  # the loop ends at the limit: no third model call
    assert ADD in offered(requests[0])
    assert "tools" not in requests[1] or not requests[1]["tools"]
    finished = events[-1]
    assert isinstance(finished, TurnFinished) and finished.steps == 2
    assert sum(isinstance(e, TurnFinished) for e in events) == 1
    # Only the first step's call ran; the one asked for on the last step (where no tools
    # were offered) is not executed: the limit bounds tool runs, not just model calls.
    (started,) = [e for e in events if isinstance(e, ToolStarted)]
    (done,) = [e for e in events if isinstance(e, ToolFinished)]
    assert (started.step, started.arguments) == (0, {"a": 2, "b": 3})
    assert done.ok and done.output == "5"


@pytest.mark.parametrize("model_config", [ModelConfig(tool_steps=[(SLOW, {"seconds": 30})])])
async def test_slow_tool_times_out_and_the_turn_goes_on(
    backend: OllamaBackend, registry: ToolRegistry, server: OllamaTestServer
) -> None:
    events = await run(backend, registry, "test-tool", tool_timeout_s=0.5)

    (done,) = [e for e in events if isinstance(e, ToolFinished)]
    assert not done.ok
    assert f"{SLOW!r} did not finish within 0.5 seconds" in done.error
    assert isinstance(events[-1], TurnFinished)
    assert "did not finish" in text_of(events)
    assert len(server.chat_requests()) == 2

    # The server is still usable after the abandoned call.
    result = await registry.run(ADD, {"a": 1, "b": 1}, CTX)
    assert result.ok and result.output == "2"
