"""LLM backend for a user's Ollama server, through the official `ollama` client."""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, cast

import httpx
from httpx_aiohttp import AiohttpTransport
from ollama import AsyncClient, ChatResponse, ResponseError

from youworker.logging import get_logger
from youworker.services.llm.base import (
    ChatChunk,
    ChatMessage,
    LLMError,
    ModelInfo,
    ToolCallRequest,
    ToolSpec,
    Usage,
)

logger = get_logger(__name__)

EMBED_BATCH_SIZE = 64


def to_ollama_message(message: ChatMessage) -> dict[str, Any]:
    """One message in Ollama's wire format (tool results carry `tool_name`)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {"function": {"name": call.name, "arguments": dict(call.arguments)}}
            for call in message.tool_calls
        ]
    if message.role == "tool" and message.tool_name:
        out["tool_name"] = message.tool_name
    return out


def _to_chunk(part: ChatResponse) -> ChatChunk:
    message = part.message
    calls = tuple(
        ToolCallRequest(
            name=call.function.name,
            arguments=dict(call.function.arguments or {}),
            # Ollama 0.6.3's client drops call ids; the agent still needs one to pair results.
            id=f"call_{uuid.uuid4().hex[:12]}",
        )
        for call in message.tool_calls or ()
    )
    usage = (
        Usage(prompt_tokens=part.prompt_eval_count or 0, completion_tokens=part.eval_count or 0)
        if part.done
        else None
    )
    return ChatChunk(
        content=message.content or "",
        thinking=message.thinking or "",
        tool_calls=calls,
        done=bool(part.done),
        done_reason=part.done_reason if part.done else None,
        usage=usage,
    )


class OllamaBackend:
    """Chat, model list and embeddings from an Ollama server; failures become LLMError."""

    name = "ollama"

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        # A long read timeout (a cold model can take a while to load), a short connect timeout.
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        # httpx pools connections per event loop; one client per loop keeps reuse safe.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _client(self) -> AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # aiohttp under httpx: reading a token stream costs about half the CPU of httpx's
            # own transport (anyio re-arms the socket for every read), which is what limits how
            # many answers one worker can stream at once.
            client = AsyncClient(
                host=self.base_url, timeout=self._timeout, transport=AiohttpTransport()
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the HTTP client of the running event loop."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    def _error(self, exc: Exception, model: str | None) -> LLMError:
        """Phrase a client or transport failure for the user."""
        if isinstance(exc, ResponseError):
            text = str(exc.error)
            if exc.status_code == 404 or "not found" in text.lower():
                if model:
                    return LLMError(
                        "model_not_found",
                        f'Model "{model}" is not available on Ollama at {self.base_url} '
                        f"(pull it with `ollama pull {model}`).",
                    )
                return LLMError("model_not_found", f"Ollama at {self.base_url}: {text}")
            return LLMError("backend", f"Ollama error: {text}")
        if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError | ConnectionError):
            return LLMError("unavailable", f"Ollama is not reachable at {self.base_url}.")
        if isinstance(exc, httpx.TimeoutException):
            kind = exc.__class__.__name__
            return LLMError(
                "timeout", f"Ollama at {self.base_url} did not answer in time ({kind})."
            )
        if isinstance(exc, httpx.TransportError):
            return LLMError("unavailable", f"Lost the connection to Ollama at {self.base_url}.")
        return LLMError("backend", f"Ollama sent an invalid response: {exc}")

    async def stream_chat(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream the answer; raises LLMError (before or during the stream)."""
        try:
            stream = await self._client().chat(
                model=model,
                messages=[to_ollama_message(m) for m in messages],
                tools=[tool.as_ollama() for tool in tools] if tools else None,
                stream=True,
            )
            # Close the HTTP response as soon as the consumer stops, not at garbage collection.
            async with aclosing(cast(AsyncGenerator[ChatResponse, None], stream)) as parts:
                async for part in parts:
                    yield _to_chunk(part)
        except (ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            error = self._error(exc, model)
            logger.warning("ollama chat failed", model=model, code=error.code, error=str(exc))
            raise error from exc

    async def list_models(self) -> list[ModelInfo]:
        try:
            response = await self._client().list()
        except (ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            raise self._error(exc, None) from exc
        return [
            ModelInfo(
                name=item.model or "",
                size_bytes=int(item.size) if item.size is not None else None,
                details=item.details.model_dump(exclude_none=True) if item.details else {},
            )
            for item in response.models
        ]

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        """One vector per text, sent in batches (Ollama's /api/embed takes a list)."""
        vectors: list[list[float]] = []
        try:
            for start in range(0, len(texts), EMBED_BATCH_SIZE):
                batch = texts[start : start + EMBED_BATCH_SIZE]
                response = await self._client().embed(model=model, input=batch)
                if len(response.embeddings) != len(batch):
                    raise ValueError(
                        f"{len(response.embeddings)} embeddings for {len(batch)} texts"
                    )
                vectors.extend([float(v) for v in vector] for vector in response.embeddings)
        except (ResponseError, httpx.HTTPError, ConnectionError, ValueError) as exc:
            raise self._error(exc, model) from exc
        return vectors
