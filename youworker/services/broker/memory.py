"""The in-process broker: the default for a single process, and several "workers" in tests."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from youworker.services.broker.base import Broker, Message

Clock = Callable[[], float]


class MemoryHub:
    """What several in-memory brokers share (the part Redis plays for the Redis broker)."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.brokers: list[MemoryBroker] = []
        self.claims: dict[str, tuple[str, float]] = {}
        self.kept: dict[tuple[str, str], tuple[str, float]] = {}
        self.counters: dict[str, int] = {}

    def live_claim(self, key: str) -> str | None:
        found = self.claims.get(key)
        if found is None or found[1] <= self.clock():
            self.claims.pop(key, None)
            return None
        return found[0]

    def prune(self) -> None:
        now = self.clock()
        for key in [k for k, (_, expires) in self.kept.items() if expires <= now]:
            del self.kept[key]


class MemoryBroker(Broker):
    """Delivers at once to the other brokers of its hub (none, for a single process)."""

    def __init__(self, hub: MemoryHub | None = None) -> None:
        super().__init__()
        self.hub = hub or MemoryHub()
        self.hub.brokers.append(self)

    @property
    def shared(self) -> bool:
        return len(self.hub.brokers) > 1

    def publish(
        self, topic: str, message: Message, *, coalesce: str | None = None, keep_s: float = 0
    ) -> None:
        if not self.shared:
            return  # nobody else to tell, and this process already knows
        text = message if isinstance(message, str) else message()
        if keep_s > 0 and coalesce is not None:
            self.hub.prune()
            self.hub.kept[(topic, coalesce)] = (text, self.hub.clock() + keep_s)
        for broker in list(self.hub.brokers):
            if broker is not self:
                broker._deliver(topic, text)

    async def last(self, topic: str, coalesce: str) -> str | None:
        found = self.hub.kept.get((topic, coalesce))
        return found[0] if found is not None and found[1] > self.hub.clock() else None

    async def flush(self) -> None:
        return None

    async def claim(self, key: str, ttl_s: float) -> str | None:
        if self.hub.live_claim(key) is not None:
            return None
        token = uuid.uuid4().hex
        self.hub.claims[key] = (token, self.hub.clock() + ttl_s)
        return token

    async def renew(self, key: str, token: str, ttl_s: float) -> bool:
        if self.hub.live_claim(key) != token:
            return False
        self.hub.claims[key] = (token, self.hub.clock() + ttl_s)
        return True

    async def release(self, key: str, token: str) -> None:
        if self.hub.live_claim(key) == token:
            del self.hub.claims[key]

    async def holder(self, key: str) -> str | None:
        return self.hub.live_claim(key)

    async def incr(self, key: str) -> int:
        self.hub.counters[key] = self.hub.counters.get(key, 0) + 1
        return self.hub.counters[key]

    async def counter(self, key: str) -> int:
        return self.hub.counters.get(key, 0)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        if self in self.hub.brokers:
            self.hub.brokers.remove(self)
