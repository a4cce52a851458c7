"""Rate limits shared by every path (browser, REST, CLI): the `limits` library, moving windows.

Counters live in process memory, or in Redis when REDIS__URL is set so that several workers share
them. A Redis outage must not take sign-in down with it: storage errors let the request through
(fail open) and log a warning, at most once a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from youworker.logging import get_logger
from youworker.services.errors import RateLimited
from youworker.settings import RateLimitSettings, Settings, get_settings, parse_rate_limits

log = get_logger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]

KEY_PREFIX = "youworker-limits"
SIGN_IN_MESSAGE = "Too many sign-in attempts."
# A Redis that hangs must not hang sign-in: give up fast and fail open.
REDIS_TIMEOUT_SECONDS = 0.5
WARN_EVERY_SECONDS = 60.0
MEGABYTE = 1024 * 1024


def digest(value: str) -> str:
    """Keys never hold emails, tokens or addresses in clear (Redis is shared infrastructure)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def format_wait(seconds: int) -> str:
    """`42 s` under a minute, whole minutes (rounded up) above."""
    return f"{seconds} s" if seconds < 60 else f"{math.ceil(seconds / 60)} min"


@dataclass(frozen=True)
class Rule:
    """One configured limit: its name (part of every key), its windows and what people read."""

    name: str
    items: tuple[RateLimitItem, ...]
    message: str  # "Too many uploads." ; the wait is appended

    def refusal(self, retry_after: int) -> RateLimited:
        return RateLimited(f"{self.message} Try again in {format_wait(retry_after)}.", retry_after)


def make_storage(redis_url: str | None) -> Storage:
    """Memory storage, or Redis (redis-py's asyncio client) when a URL is configured."""
    if not redis_url:
        return MemoryStorage()
    return RedisStorage(
        f"async+{redis_url}",
        implementation="redispy",
        wrap_exceptions=True,
        key_prefix=KEY_PREFIX,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )


class RateLimits:
    """The configured rules over one storage; every check raises `RateLimited` when over."""

    def __init__(
        self, settings: RateLimitSettings, storage: Storage, clock: Clock = time.time
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.clock = clock
        self.limiter = MovingWindowRateLimiter(storage)
        self._warned_at = -math.inf

        def rule(name: str, value: str, message: str) -> Rule:
            return Rule(name, tuple(parse_rate_limits(value)), message)

        self.sign_in_ip = rule("sign_in_ip", settings.sign_in_per_ip, SIGN_IN_MESSAGE)
        self.register_ip = rule(
            "register_ip", settings.register_per_ip, "Too many registrations from your network."
        )
        self.messages = rule(
            "messages", settings.messages_per_user, "You are sending messages too fast."
        )
        self.upload_files = rule(
            "upload_files", settings.upload_files_per_user, "You have uploaded too many files."
        )
        self.upload_megabytes = rule(
            "upload_mb", settings.upload_mb_per_user, "You have uploaded too much data."
        )
        self.api = rule("api", settings.api_per_key, "Too many requests.")
        self.auth_failures = rule(
            "api_auth_failures",
            settings.api_auth_failures_per_ip,
            "Too many failed attempts with keys or tokens from your address.",
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        return cls(settings.rate_limit, make_storage(settings.redis.url))

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    async def safely(self, operation: Awaitable[T], fallback: T) -> T:
        """Run a storage operation; on a storage failure log it and return `fallback`."""
        try:
            return await operation
        except (StorageError, OSError, TimeoutError) as exc:
            now = time.monotonic()
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning(
                    "rate_limit.storage_unavailable",
                    error=type(exc).__name__,
                    detail=str(getattr(exc, "storage_error", exc))[:200],
                    effect="requests pass unlimited until the storage answers",
                )
            return fallback

    async def retry_after(self, item: RateLimitItem, *key: str) -> int:
        """Whole seconds after which the oldest hit in the window has expired (at least 1)."""
        stats = await self.safely(self.limiter.get_window_stats(item, *key), None)
        if stats is None:
            return 1
        # The window still holds a hit at exactly its expiry: promise the second after.
        return max(1, math.floor(stats.reset_time - self.clock()) + 1)

    async def hit(self, rule: Rule, *key: str, cost: int = 1) -> None:
        """Count `cost` against every window of `rule`; RateLimited when one is full."""
        if not self.enabled:
            return
        for item in rule.items:
            if not await self.safely(self.limiter.hit(item, rule.name, *key, cost=cost), True):
                await self._refuse(rule, item, *key)

    async def _room_for(self, rule: Rule, cost: int, *key: str) -> None:
        """RateLimited when `cost` more would not fit in a window of `rule` (nothing counted)."""
        for item in rule.items:
            if not await self.safely(self.limiter.test(item, rule.name, *key, cost=cost), True):
                await self._refuse(rule, item, *key)

    async def _refuse(self, rule: Rule, item: RateLimitItem, *key: str) -> None:
        retry = await self.retry_after(item, rule.name, *key)
        log.info("rate_limit.refused", rule=rule.name, limit=str(item), retry_after=retry)
        raise rule.refusal(retry)

    async def check_register(self, ip: str | None) -> None:
        if ip:
            await self.hit(self.register_ip, digest(ip))

    async def check_message(self, user_id: object) -> None:
        await self.hit(self.messages, str(user_id))

    async def check_upload(self, user_id: object, size_bytes: int) -> None:
        """One file of `size_bytes` against the person's file and megabyte budgets."""
        if not self.enabled:
            return
        key = str(user_id)
        megabytes = max(1, math.ceil(size_bytes / MEGABYTE))
        # Both budgets are checked before either counts: a refused file uses up neither.
        await self._room_for(self.upload_files, 1, key)
        await self._room_for(self.upload_megabytes, megabytes, key)
        await self.hit(self.upload_files, key)
        await self.hit(self.upload_megabytes, key, cost=megabytes)

    async def check_api(self, credential_or_ip: str) -> None:
        await self.hit(self.api, digest(credential_or_ip))

    async def check_auth_failures(self, ip: str | None) -> None:
        """RateLimited while the address's failed credentials fill a window (nothing counted)."""
        if not self.enabled:
            return
        await self._room_for(self.auth_failures, 1, digest(ip or "unknown"))

    async def count_auth_failure(self, ip: str | None) -> None:
        """One more failed credential from `ip` (the next check refuses once a window is full)."""
        if not self.enabled:
            return
        key = digest(ip or "unknown")
        for item in self.auth_failures.items:
            await self.safely(self.limiter.hit(item, self.auth_failures.name, key), True)


# One instance per event loop: asyncio locks and Redis connections belong to the loop that made
# them (one loop per server worker; a CLI command or a test gets its own).
_instances: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RateLimits] = (
    weakref.WeakKeyDictionary()
)


def get_rate_limits() -> RateLimits:
    """This process's limits, created on first use from the settings."""
    loop = asyncio.get_running_loop()
    found = _instances.get(loop)
    if found is None:
        found = _instances[loop] = RateLimits.from_settings(get_settings())
    return found


def use_rate_limits(limits: RateLimits) -> None:
    """Replace this loop's limits (tests: small windows, a fake clock)."""
    _instances[asyncio.get_running_loop()] = limits
