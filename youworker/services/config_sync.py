"""Tool and MCP settings are loaded once per process; a change on one worker reloads them on all.

A counter in the broker is the configuration's version. The worker that made a change bumps it
and tells the others, who reload in the background; a worker about to use the configuration
(a page load, an answer) first catches up if its version is behind, so it never waits on a
notice that may still be on its way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from youworker.logging import get_logger
from youworker.services.broker import Broker

log = get_logger(__name__)

TOPIC = "config"
VERSION_KEY = "config-version"

Reload = Callable[[], Awaitable[None]]


class ConfigSync:
    def __init__(self, broker: Broker, reload: Reload) -> None:
        self._broker = broker
        self._reload = reload
        self._applied = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        broker.subscribe(TOPIC, self._on_notice)

    @property
    def applied(self) -> int:
        return self._applied

    async def loaded(self) -> None:
        """The configuration was just loaded at start: it is as new as the current version."""
        self._applied = await self._broker.counter(VERSION_KEY)

    async def changed(self) -> None:
        """Call after a change was saved and applied here: the other workers reload."""
        if not self._broker.shared:
            return
        version = await self._broker.incr(VERSION_KEY)
        self._applied = max(self._applied, version)
        self._broker.publish(TOPIC, str(version))
        log.info("config.changed", version=version)

    async def current(self) -> None:
        """Reload first if another worker changed the configuration since this one loaded it."""
        if not self._broker.shared:
            return
        version = await self._broker.counter(VERSION_KEY)
        if version > self._applied:
            await self._catch_up(version)

    def _on_notice(self, message: str) -> None:
        if not message.isdigit() or int(message) <= self._applied:
            return
        task = asyncio.create_task(self._catch_up(int(message)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _catch_up(self, version: int) -> None:
        async with self._lock:
            if version <= self._applied:
                return
            try:
                await self._reload()
            except Exception:
                log.exception("config.reload_failed", version=version)
                return
            self._applied = version
            log.info("config.reloaded", version=version)
