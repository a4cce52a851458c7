"""Messages and short-lived keys shared by the backend processes.

One process (no Redis) uses the in-memory broker; several workers (REDIS__URL set) use Redis.
Running answers, stop requests, conversation-list notices and configuration changes go through it.
"""

from __future__ import annotations

from youworker.services.broker.base import Broker, Message
from youworker.services.broker.memory import MemoryBroker, MemoryHub


def make_broker(redis_url: str | None) -> Broker:
    """The in-memory broker, or the Redis one when a URL is configured."""
    if not redis_url:
        return MemoryBroker()
    from youworker.services.broker.redis import RedisBroker

    return RedisBroker(redis_url)


__all__ = ["Broker", "MemoryBroker", "MemoryHub", "Message", "make_broker"]
