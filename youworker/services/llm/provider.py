"""Which backend answers: the user's Ollama hosts when any is reachable, else the built-in model.

In "auto" mode a background task probes every Ollama host's /api/tags every few seconds (all at
once, each with a short timeout) and switches both ways. Until the first probe round finishes
the status says `checking` and `backend()` returns the built-in model, so no page or start-up
ever waits on the network; callers that can afford to wait one probe timeout use
`await current_backend()` instead. Requests spread over the hosts (see `hosts.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from youworker.logging import get_logger
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.embedded import MODEL_NAME, EmbeddedBackend
from youworker.services.llm.hosts import HostPool, HostStatus, describe, summary
from youworker.services.llm.pooled import PooledOllamaBackend
from youworker.settings import LLMSettings, get_settings

logger = get_logger(__name__)

ProviderName = Literal["ollama", "embedded"]
DEFAULT_PROBE_INTERVAL_SECONDS = 10.0


@dataclass(frozen=True)
class ProviderStatus:
    """Which backend is active and what the Ollama hosts last showed."""

    active: ProviderName
    ollama_reachable: bool  # at least one host answers
    checked_at: datetime | None
    detail: str
    checking: bool = False  # True until the first probe round has finished
    hosts: tuple[HostStatus, ...] = ()  # empty in "embedded" mode

    @property
    def hosts_summary(self) -> str:
        """Like "2 of 3 Ollama hosts up" (empty when no host is used)."""
        return summary(self.hosts) if self.hosts else ""


def user_notice(status: ProviderStatus) -> str:
    """The chat page's banner: set while the built-in model answers."""
    if status.active != "embedded" or status.checking:
        return ""
    if len(status.hosts) > 1:
        return f"Built-in small model: none of the {len(status.hosts)} Ollama hosts answers."
    return "Built-in small model: connect Ollama for real answers."


class ProviderManager:
    """One per process: holds the backends and picks the active one."""

    def __init__(
        self,
        settings: LLMSettings,
        *,
        probe_interval_seconds: float = DEFAULT_PROBE_INTERVAL_SECONDS,
        embedded: EmbeddedBackend | None = None,
    ) -> None:
        self.settings = settings
        self.mode = settings.provider
        self.probe_interval_seconds = probe_interval_seconds
        self.pool = HostPool(
            settings.ollama_hosts,
            probe_timeout=settings.probe_timeout_seconds,
            on_change=self._host_changed,
        )
        self.ollama = PooledOllamaBackend(self.pool)
        self._embedded = embedded
        self._task: asyncio.Task[None] | None = None
        if self.mode == "embedded":
            self._status = ProviderStatus("embedded", False, None, "built-in model (configured)")
        else:
            urls = self.pool.urls
            where = f"Ollama at {urls[0]}" if len(urls) == 1 else f"{len(urls)} Ollama hosts"
            self._status = ProviderStatus(
                "ollama" if self.mode == "ollama" else "embedded",
                False,
                None,
                f"checking {where}",
                checking=True,
                hosts=self.pool.statuses(),
            )

    @property
    def embedded(self) -> EmbeddedBackend:
        """The built-in backend, created on first need (its child process starts on first chat)."""
        if self._embedded is None:
            self._embedded = EmbeddedBackend(
                keep_alive_seconds=self.settings.embedded_keep_alive_seconds
            )
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
        if self._embedded is not None:
            await self._embedded.aclose()
            self._embedded = None

    async def refresh(self) -> ProviderStatus:
        """Probe every Ollama host now and switch if needed."""
        if self.mode == "embedded":
            return self._status
        await self.pool.refresh()
        self._apply(self.pool.statuses())
        return self._status

    def _host_changed(self) -> None:
        # A request found a host down (or a probe changed one): follow at once, but leave
        # `checking` to the end of the first probe round.
        if not self._status.checking:
            self._apply(self.pool.statuses())

    def _apply(self, hosts: tuple[HostStatus, ...]) -> None:
        reachable = any(host.up for host in hosts)
        use_ollama = self.mode == "ollama" or reachable
        active: ProviderName = "ollama" if use_ollama else "embedded"
        checked = [host.checked_at for host in hosts if host.checked_at is not None]
        detail = describe(hosts, self.settings.chat_model)
        previous = self._status
        self._status = ProviderStatus(
            active, reachable, max(checked, default=datetime.now(UTC)), detail, hosts=hosts
        )
        if previous.checking:
            logger.info("llm provider selected", active=active, mode=self.mode, detail=detail)
        elif previous.active != active or previous.hosts_summary != self._status.hosts_summary:
            logger.info(
                "llm provider changed",
                previous=previous.active,
                active=active,
                ollama_reachable=reachable,
                hosts=self._status.hosts_summary,
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
