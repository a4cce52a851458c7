"""The agent loop: model -> tool calls -> results back to the model -> ... -> answer."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from youworker.services.llm.base import (
    ChatMessage,
    LLMBackend,
    LLMError,
    ToolCallRequest,
    ToolSpec,
    Usage,
)
from youworker.services.tools.base import ToolContext


class ToolOutcome(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def output(self) -> str: ...

    @property
    def error(self) -> str: ...

    @property
    def duration_ms(self) -> int: ...


class ToolRunner(Protocol):
    """What the loop needs from the tool registry."""

    def specs(self, disabled: Collection[str] = ...) -> list[ToolSpec]: ...

    async def run(
        self,
        name: str,
        arguments: Any,
        ctx: ToolContext,
        timeout_s: float | None = None,
        *,
        disabled: Collection[str] = ...,
    ) -> ToolOutcome: ...


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True)
class ToolStarted:
    call_id: str
    step: int
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class ToolFinished:
    call_id: str
    ok: bool
    output: str
    error: str
    duration_ms: int


@dataclass(frozen=True)
class TurnFinished:
    usage: Usage
    first_token_ms: int | None
    steps: int


AgentEvent = TextDelta | ThinkingDelta | ToolStarted | ToolFinished | TurnFinished


@dataclass(frozen=True)
class AgentConfig:
    model: str
    max_steps: int = 6
    tool_timeout_s: float = 30.0
    model_timeout_s: float = 120.0


async def _next_chunk(stream: AsyncIterator[Any], timeout_s: float) -> Any:
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a Stop's cancellation when a
    # chunk arrives at the same moment.
    try:
        async with asyncio.timeout(timeout_s):
            return await anext(stream)
    except TimeoutError as exc:
        raise LLMError("timeout", f"The model sent nothing for {timeout_s:.0f} s.") from exc


async def run_agent(
    backend: LLMBackend,
    history: list[ChatMessage],
    tools: ToolRunner,
    disabled_tools: set[str],
    ctx: ToolContext,
    config: AgentConfig,
) -> AsyncIterator[AgentEvent]:
    """Stream one answer. Raises LLMError for model failures; tool failures go to the model."""
    messages = list(history)
    specs = tools.specs(disabled_tools)
    started = time.perf_counter()
    first_token_ms: int | None = None
    prompt_tokens = completion_tokens = 0
    for step in range(config.max_steps):
        # The last allowed step offers no tools, so the model has to answer.
        last_step = step == config.max_steps - 1
        offered = [] if last_step else specs
        calls: list[ToolCallRequest] = []
        text_parts: list[str] = []
        stream = backend.stream_chat(config.model, messages, offered or None)
        try:
            while True:
                try:
                    chunk = await _next_chunk(stream, config.model_timeout_s)
                except StopAsyncIteration:
                    break
                if (chunk.content or chunk.thinking) and first_token_ms is None:
                    first_token_ms = int((time.perf_counter() - started) * 1000)
                if chunk.thinking:
                    yield ThinkingDelta(chunk.thinking)
                if chunk.content:
                    text_parts.append(chunk.content)
                    yield TextDelta(chunk.content)
                calls.extend(chunk.tool_calls)
                if chunk.usage is not None:
                    prompt_tokens += chunk.usage.prompt_tokens
                    completion_tokens += chunk.usage.completion_tokens
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if not calls or last_step:
            # Calls on the last step were offered no tools: running them would exceed the limit,
            # and no later step could show their results to the model.
            break
        messages.append(
            ChatMessage(role="assistant", content="".join(text_parts), tool_calls=tuple(calls))
        )
        for call in calls:
            call_id = call.id or uuid.uuid4().hex
            yield ToolStarted(call_id=call_id, step=step, name=call.name, arguments=call.arguments)
            outcome = await tools.run(
                call.name, call.arguments, ctx, config.tool_timeout_s, disabled=disabled_tools
            )
            yield ToolFinished(
                call_id=call_id,
                ok=outcome.ok,
                output=outcome.output,
                error=outcome.error,
                duration_ms=outcome.duration_ms,
            )
            result_text = outcome.output if outcome.ok else f"Tool error: {outcome.error}"
            messages.append(ChatMessage(role="tool", content=result_text, tool_name=call.name))
    yield TurnFinished(
        usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
        first_token_ms=first_token_ms,
        steps=step + 1,
    )


def arguments_json(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False, default=str)
