"""The interface every LLM backend implements, and the chunks it streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class ToolCallRequest:
    """A tool call the model asked for; `arguments` is always a dict."""

    name: str
    arguments: dict[str, Any]
    id: str = ""


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation as the model sees it."""

    role: Role
    content: str
    tool_calls: tuple[ToolCallRequest, ...] = ()
    tool_name: str | None = None  # for role == "tool": which tool produced this result


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: name, description and JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]

    def as_ollama(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class ChatChunk:
    """A piece of a streamed answer. The last chunk has `done=True` and carries usage."""

    content: str = ""
    thinking: str = ""
    tool_calls: tuple[ToolCallRequest, ...] = ()
    done: bool = False
    done_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    size_bytes: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


class LLMError(Exception):
    """A backend failure for the user; `code`: unavailable, model_not_found, timeout, backend."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LLMBackend(Protocol):
    """What the agent needs from a model provider."""

    name: str

    def stream_chat(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
    ) -> AsyncIterator[ChatChunk]:
        """Stream the answer; raises LLMError (before or during the stream)."""
        ...

    async def list_models(self) -> list[ModelInfo]: ...

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]: ...
