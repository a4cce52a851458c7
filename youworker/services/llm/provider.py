"""Which backend answers: the user's Ollama when reachable, otherwise the built-in model.

In "auto" mode a background task probes Ollama's /api/tags every few seconds with a short
timeout and switches both ways. Until the first probe finishes the status says `checking` and
`backend()` returns the built-in model, so no page or start-up ever waits on the network;
callers that can afford to wait one probe timeout use `await current_backend()` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from youworker.logging import get_logger
from youworker.services.llm.base import LLMBackend, LLMError
from youworker.services.llm.embedded import MODEL_NAME, EmbeddedBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.settings import LLMSettings, get_settings

logger = get_logger(__name__)

ProviderName = Literal["ollama", "embedded"]
DEFAULT_PROBE_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class ProviderStatus:
    """Which backend is active and what the last Ollama probe found."""

    active: ProviderName
    ollama_reachable: bool
    checked_at: datetime | None
    detail: str
    checking: bool = False  # True until the first probe has finished


class ProviderManager:
    """One per process: holds the backends and picks the active one."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        probe_interval_seconds: float = DEFAULT_PROBE_INTERVAL_SECONDS,
        ollama: OllamaBackend | None = None,
        embedded: EmbeddedBackend | None = None,
    ) -> None:
        self.settings = settings
        self.mode = settings.provider
        self.probe_interval_seconds = probe_interval_seconds
        self.ollama = ollama or OllamaBackend(str(settings.ollama_base_url))
        self._embedded = embedded
        self._task: asyncio.Task[None] | None = None
        self._probes_started = 0
        self._probes_applied = 0
        if self.mode == "embedded":
            self._status = ProviderStatus("embedded", False, None, "built-in model (configured)")
        else:
            self._status = ProviderStatus(
                "ollama" if self.mode == "ollama" else "embedded",
                False,
                None,
                f"checking Ollama at {self.ollama.base_url}",
                checking=True,
            )

    @property
    def embedded(self) -> EmbeddedBackend:
        """The built-in backend, created on first need (the model itself loads on first chat)."""
        if self._embedded is None:
            self._embedded = EmbeddedBackend()
        return self._embedded

    def status(self) -> ProviderStatus:
        return self._status

    def backend(self) -> LLMBackend:
        """The active backend right now (never waits)."""
        return self.ollama if self._status.active == "ollama" else self.embedded

    async def current_backend(self) -> LLMBackend:
        """The active backend, probing first if no probe has finished yet."""
        if self._status.checking:
            await self.refresh()
        return self.backend()

    def default_model(self) -> str:
        return self.settings.chat_model if self._status.active == "ollama" else MODEL_NAME

    async def start(self) -> None:
        """Start probing in the background (not in "embedded" mode); returns at once."""
        if self.mode == "embedded" or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.create_task(self._probe_loop(), name="llm-provider-probe")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.ollama.aclose()

    async def refresh(self) -> ProviderStatus:
        """Probe Ollama now and switch if needed."""
        if self.mode == "embedded":
            return self._status
        self._probes_started += 1
        number = self._probes_started
        timeout = self.settings.probe_timeout_seconds
        try:
            async with asyncio.timeout(timeout):
                models = await self.ollama.list_models()
        except LLMError as exc:
            reachable, detail = False, exc.message
        except TimeoutError:
            reachable = False
            detail = f"Ollama at {self.ollama.base_url} did not answer within {timeout:g} s."
        else:
            reachable = True
            detail = self._reachable_detail([m.name for m in models])
        # Concurrent probes may finish out of order: only a newer probe may overwrite.
        if number > self._probes_applied:
            self._probes_applied = number
            self._apply(reachable, detail)
        return self._status

    def _reachable_detail(self, names: list[str]) -> str:
        model = self.settings.chat_model
        if model in names or f"{model}:latest" in names:
            return f"Ollama at {self.ollama.base_url} with {model}"
        return f"Ollama at {self.ollama.base_url}; model {model} is not pulled there"

    def _apply(self, reachable: bool, detail: str) -> None:
        use_ollama = self.mode == "ollama" or reachable
        active: ProviderName = "ollama" if use_ollama else "embedded"
        previous = self._status
        self._status = ProviderStatus(active, reachable, datetime.now(UTC), detail)
        if previous.checking:
            logger.info("llm provider selected", active=active, mode=self.mode, detail=detail)
        elif previous.active != active or previous.ollama_reachable != reachable:
            logger.info(
                "llm provider changed",
                previous=previous.active,
                active=active,
                ollama_reachable=reachable,
                detail=detail,
            )

    async def _probe_loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                logger.exception("llm provider probe failed")
            await asyncio.sleep(self.probe_interval_seconds)


@lru_cache(maxsize=1)
def get_provider_manager() -> ProviderManager:
    """The process-wide manager (tests build their own or call `cache_clear()`)."""
    return ProviderManager(get_settings().llm)
