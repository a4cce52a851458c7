"""An Ollama backend over a host pool: each request picks a host, and fails over once.

A host that cannot be reached before the first chunk arrives is marked down at once and the
request goes to another host; once a chunk has arrived the error is the caller's (replaying
would repeat text the user has already seen).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import TypeVar

from youworker.logging import get_logger
from youworker.services.llm.base import ChatChunk, ChatMessage, LLMError, ModelInfo, ToolSpec
from youworker.services.llm.hosts import Host, HostPool
from youworker.services.llm.ollama import OllamaBackend

logger = get_logger(__name__)

ATTEMPTS = 2  # the first host, then one other
T = TypeVar("T")


class PooledOllamaBackend(OllamaBackend):
    """OllamaBackend whose every call goes to a healthy host of `pool`."""

    def __init__(self, pool: HostPool) -> None:
        super().__init__(pool.urls[0])  # `base_url` names the first host in messages
        self.pool = pool

    async def aclose(self) -> None:
        await self.pool.aclose()

    def _failed(self, host: Host, exc: LLMError, tried: list[str]) -> bool:
        """Mark an unreachable host down; True when another attempt may follow."""
        if exc.code != "unavailable":
            return False
        self.pool.mark_down(host, exc.message)
        retry = len(tried) < ATTEMPTS
        logger.warning("ollama request failed", url=host.url, error=exc.message, retry=retry)
        return retry

    async def stream_chat(
        self, model: str, messages: list[ChatMessage], tools: list[ToolSpec] | None = None
    ) -> AsyncGenerator[ChatChunk, None]:
        """Stream from one host; retried once on another if the first sent nothing."""
        tried: list[str] = []
        while (host := self.pool.acquire(model, tried)) is not None:
            tried.append(host.url)
            received = False
            try:
                stream = host.backend.stream_chat(model, messages, tools)
                async with aclosing(stream) as chunks:
                    async for chunk in chunks:
                        received = True
                        yield chunk
                return
            except LLMError as exc:
                if received or not self._failed(host, exc, tried):
                    raise
            finally:
                self.pool.release(host)
        raise self.pool.unavailable()

    async def _call(self, model: str, call: Callable[[OllamaBackend], Awaitable[T]]) -> T:
        tried: list[str] = []
        while (host := self.pool.acquire(model, tried)) is not None:
            tried.append(host.url)
            try:
                return await call(host.backend)
            except LLMError as exc:
                if not self._failed(host, exc, tried):
                    raise
            finally:
                self.pool.release(host)
        raise self.pool.unavailable()

    async def embed(self, model: str, texts: list[str]) -> list[list[float]]:
        return await self._call(model, lambda backend: backend.embed(model, texts))

    async def list_models(self) -> list[ModelInfo]:
        """Every model of the reachable hosts (each asked at once, within the probe timeout)."""
        hosts = self.pool.usable()
        if not hosts:
            raise self.pool.unavailable()
        results = await asyncio.gather(
            *(self._models_of(host) for host in hosts), return_exceptions=True
        )
        found: dict[str, ModelInfo] = {}
        for result in results:
            if isinstance(result, BaseException):
                continue
            for info in result:
                found.setdefault(info.name, info)
        errors = [result for result in results if isinstance(result, BaseException)]
        if len(errors) == len(results):
            raise errors[0]
        return list(found.values())

    async def _models_of(self, host: Host) -> list[ModelInfo]:
        timeout = self.pool.probe_timeout
        try:
            async with asyncio.timeout(timeout):
                return await host.backend.list_models()
        except TimeoutError:
            message = f"Ollama at {host.url} did not answer within {timeout:g} s."
            raise LLMError("timeout", message) from None
        except LLMError as exc:
            if exc.code == "unavailable":
                self.pool.mark_down(host, exc.message)
            raise
