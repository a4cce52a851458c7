"""The Redis broker: pub/sub for messages, keys with a TTL for claims and kept messages.

One pattern subscription per process receives every topic; one sender task sends what was
published in order, pipelined, so messages published while a round trip is under way coalesce.
A Redis outage loses messages (logged, at most once a minute) and never raises into callers:
claims then succeed locally, so one process keeps working as it would alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from cryptography.fernet import InvalidToken
from redis.exceptions import RedisError

from youworker.logging import get_logger
from youworker.services.broker.base import Broker, Message
from youworker.services.encryption import kept_message_cipher

log = get_logger(__name__)

T = TypeVar("T")

PREFIX = "youworker"
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 2.0
RECONNECT_S = 1.0
WARN_EVERY_S = 60.0

# Renew or release a claim only while this token holds it.
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)
_RELEASE = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end"
)


class RedisBroker(Broker):
    """Shared by every process that uses the same Redis database."""

    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        super().__init__()
        self._url = url
        self._prefix = prefix
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=COMMAND_TIMEOUT_S
        )
        self._pending: dict[str, tuple[str, Message, str | None, float]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._subscribed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._warned_at = -math.inf

    @property
    def shared(self) -> bool:
        return True

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}"

    def _channel(self, topic: str) -> str:
        return f"{self._prefix}:bus:{topic}"

    def _warn(self, event: str, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning(event, error=type(exc).__name__, detail=str(exc)[:200])

    async def _safely(self, operation: Awaitable[T], fallback: T) -> T:
        try:
            return await operation
        except (RedisError, OSError, TimeoutError) as exc:
            self._warn("broker.redis_unavailable", exc)
            return fallback

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._listen(), name="broker-listen"),
            asyncio.create_task(self._send(), name="broker-send"),
        ]
        # Bounded: an unreachable Redis must not hold up the start.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), CONNECT_TIMEOUT_S * 2)

    async def close(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), COMMAND_TIMEOUT_S)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self._redis.aclose()

    # --- messages -------------------------------------------------------------------------

    def publish(
        self, topic: str, message: Message, *, coalesce: str | None = None, keep_s: float = 0
    ) -> None:
        slot = f"{topic}\0{coalesce}" if coalesce is not None else uuid.uuid4().hex
        self._pending[slot] = (topic, message, coalesce, keep_s)
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        await self._idle.wait()

    async def _send(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, {}
            try:
                if batch:
                    await self._safely(self._send_batch(list(batch.values())), None)
            except Exception:  # a message that cannot be made must not end the sender
                log.exception("broker.send_failed", messages=len(batch))
            if not self._pending:
                self._idle.set()

    async def _send_batch(self, batch: list[tuple[str, Message, str | None, float]]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for topic, message, coalesce, keep_s in batch:
            text = message if isinstance(message, str) else message()
            if keep_s > 0 and coalesce is not None:
                # Kept messages (an answer's latest text) sit in Redis: encrypted there.
                kept = kept_message_cipher().encrypt(text.encode())
                pipe.set(self._key(f"last:{topic}:{coalesce}"), kept, px=int(keep_s * 1000))
            pipe.publish(self._channel(topic), f"{self.instance_id}|{text}")
        await pipe.execute()

    async def _listen(self) -> None:
        # Its own connection without a read timeout: a quiet channel is not a failure.
        client = aioredis.Redis.from_url(
            self._url, socket_connect_timeout=CONNECT_TIMEOUT_S, health_check_interval=30
        )
        prefix = self._channel("")
        try:
            while True:
                try:
                    async with client.pubsub() as pubsub:
                        await pubsub.psubscribe(f"{prefix}*")
                        async for raw in pubsub.listen():
                            self._receive(raw, prefix)
                except (RedisError, OSError) as exc:
                    self._subscribed.clear()
                    self._warn("broker.redis_listen_failed", exc)
                await asyncio.sleep(RECONNECT_S)  # reconnect pacing, not synchronisation
        finally:
            await client.aclose()

    def _receive(self, raw: dict[str, Any], prefix: str) -> None:
        if raw.get("type") == "psubscribe":
            self._subscribed.set()
            log.info("broker.listening", instance=self.instance_id)
            return
        if raw.get("type") != "pmessage":
            return
        channel = raw["channel"].decode() if isinstance(raw["channel"], bytes) else raw["channel"]
        data = raw["data"].decode() if isinstance(raw["data"], bytes) else str(raw["data"])
        origin, _, message = data.partition("|")
        if origin != self.instance_id:
            self._deliver(channel.removeprefix(prefix), message)

    async def last(self, topic: str, coalesce: str) -> str | None:
        found = await self._safely(self._redis.get(self._key(f"last:{topic}:{coalesce}")), None)
        if found is None:
            return None
        try:
            return kept_message_cipher().decrypt(found).decode()
        except InvalidToken:
            log.warning("broker.kept_message_unreadable", topic=topic)
            return None

    # --- claims and counters --------------------------------------------------------------

    async def claim(self, key: str, ttl_s: float) -> str | None:
        token = uuid.uuid4().hex
        taken = await self._safely(
            self._redis.set(self._key(key), token, nx=True, px=int(ttl_s * 1000)), True
        )
        return token if taken else None

    async def renew(self, key: str, token: str, ttl_s: float) -> bool:
        done = await self._safely(
            cast(
                Awaitable[int],
                self._redis.eval(_RENEW, 1, self._key(key), token, int(ttl_s * 1000)),
            ),
            1,
        )
        return bool(done)

    async def release(self, key: str, token: str) -> None:
        await self._safely(
            cast(Awaitable[int], self._redis.eval(_RELEASE, 1, self._key(key), token)), 0
        )

    async def holder(self, key: str) -> str | None:
        # Unknown (Redis away) reads as held: nothing is taken over on a guess.
        found = await self._safely(self._redis.get(self._key(key)), b"unknown")
        return found.decode() if isinstance(found, bytes) else found

    async def incr(self, key: str) -> int:
        return int(await self._safely(self._redis.incr(self._key(key)), 0))

    async def counter(self, key: str) -> int:
        found = await self._safely(self._redis.get(self._key(key)), None)
        return int(found) if found is not None else 0
