"""The broker interface: fire-and-forget messages to the other processes, claims and counters."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable

from youworker.logging import get_logger

log = get_logger(__name__)

# A message, or a function that makes it when it is sent (so coalesced ones cost nothing).
Message = str | Callable[[], str]
Handler = Callable[[str], None]


class Broker(ABC):
    """What every backend process of one installation shares.

    Messages go to the *other* processes (a process applies its own changes directly); handlers
    run in the receiving process's event loop and must not block.
    """

    def __init__(self) -> None:
        self.instance_id = uuid.uuid4().hex
        self._handlers: dict[str, list[Handler]] = {}

    @property
    @abstractmethod
    def shared(self) -> bool:
        """Whether other processes may be listening (False: publishing can be skipped)."""

    def subscribe(self, topic: str, handler: Handler) -> None:
        """Call `handler` with every message other processes publish on `topic`."""
        self._handlers.setdefault(topic, []).append(handler)

    def _deliver(self, topic: str, message: str) -> None:
        for handler in self._handlers.get(topic, ()):
            try:
                handler(message)
            except Exception:  # one bad message must not stop the others
                log.exception("broker.handler_failed", topic=topic)

    @abstractmethod
    def publish(
        self, topic: str, message: Message, *, coalesce: str | None = None, keep_s: float = 0
    ) -> None:
        """Send without waiting, in order. Messages with the same `coalesce` key not yet sent
        are replaced by the latest; `keep_s` also keeps it for `last(topic, coalesce)`."""

    @abstractmethod
    async def last(self, topic: str, coalesce: str) -> str | None:
        """The latest kept message of `topic` with that key, if it has not expired."""

    @abstractmethod
    async def flush(self) -> None:
        """Return when everything published so far has been sent."""

    @abstractmethod
    async def claim(self, key: str, ttl_s: float) -> str | None:
        """Take `key` for `ttl_s` seconds: a token to renew and release it, None when held."""

    @abstractmethod
    async def renew(self, key: str, token: str, ttl_s: float) -> bool:
        """Extend a claim; False when it expired or someone else holds it now."""

    @abstractmethod
    async def release(self, key: str, token: str) -> None:
        """Give a claim up (nothing happens when the token no longer holds it)."""

    @abstractmethod
    async def holder(self, key: str) -> str | None:
        """The token holding `key`, None when nobody does."""

    @abstractmethod
    async def incr(self, key: str) -> int:
        """Add one to a counter (starting at 0) and return it."""

    @abstractmethod
    async def counter(self, key: str) -> int:
        """A counter's value (0 when never incremented)."""

    @abstractmethod
    async def start(self) -> None:
        """Connect and listen (returns once messages published from now on will arrive)."""

    @abstractmethod
    async def close(self) -> None:
        """Send what is pending and disconnect."""
