"""Sign-in throttling: attempts per address, and lockouts that grow with repeated failures.

Failures are counted twice: per (account, address) and per account over every address. A full
window starts a lockout of that scope: `lockout_seconds`, doubling with each further lockout up to
`lockout_max_seconds`. A successful sign-in clears both scopes and marks the address as known for
the account; known addresses skip the all-addresses lockout. So an attacker hammering from one
address locks only that address out, and even many addresses cannot keep the owner, signing in
from where they usually do, out; every lockout ends within the cap.

Keys depend on the typed email, not on whether an account exists, so a refusal reveals nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from limits import RateLimitItem

from youworker.logging import get_logger
from youworker.services.errors import RateLimited
from youworker.services.rate_limits import SIGN_IN_MESSAGE, RateLimits, digest, format_wait
from youworker.settings import parse_rate_limits

log = get_logger(__name__)

# Lockouts keep growing while they follow each other within a day; then they start small again.
LEVEL_TTL_SECONDS = 24 * 3600
# How long an address where the account signed in stays exempt from the all-addresses lockout.
KNOWN_ADDRESS_TTL_SECONDS = 30 * 24 * 3600
FAILURES = "sign_in_failures"


@dataclass(frozen=True)
class Lockout:
    scope: str  # "account_ip" or "account"
    seconds: int
    level: int  # 1 for the first lockout, 2 for the next, ...


@dataclass(frozen=True)
class _Scope:
    name: str
    items: tuple[RateLimitItem, ...]
    key: str


def refusal(seconds: int) -> RateLimited:
    return RateLimited(f"{SIGN_IN_MESSAGE} Try again in {format_wait(seconds)}.", seconds)


class SignInThrottle:
    """The sign-in rules over one `RateLimits` (its storage, clock and settings)."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.storage = limits.storage
        settings = limits.settings
        self.per_account_ip = tuple(parse_rate_limits(settings.sign_in_per_account))
        self.per_account = tuple(parse_rate_limits(settings.sign_in_per_account_all_ips))
        self.base_seconds = settings.lockout_seconds
        self.max_seconds = settings.lockout_max_seconds

    def _scopes(self, email: str, ip: str | None) -> tuple[_Scope, _Scope]:
        account, address = digest(email), digest(ip or "-")
        return (
            _Scope("account_ip", self.per_account_ip, f"{account}/{address}"),
            _Scope("account", self.per_account, account),
        )

    def _known_key(self, email: str, ip: str) -> str:
        return f"sign_in_known/{digest(email)}/{digest(ip)}"

    async def _is_known(self, email: str, ip: str | None) -> bool:
        if not ip:
            return False
        return await self.limits.safely(self.storage.get(self._known_key(email, ip)), 0) > 0

    async def _locked_for(self, key: str) -> int:
        """Seconds left of this scope's lockout, 0 when there is none."""
        lock = f"sign_in_lock/{key}"
        if await self.limits.safely(self.storage.get(lock), 0) <= 0:
            return 0
        until = await self.limits.safely(self.storage.get_expiry(lock), 0.0)
        return max(1, math.ceil(until - self.limits.clock()))

    async def before_attempt(self, email: str, ip: str | None) -> None:
        """Refuse (RateLimited) before the password is even looked at, or let the attempt run."""
        if not self.limits.enabled:
            return
        if ip:
            await self.limits.hit(self.limits.sign_in_ip, digest(ip))
        for scope in self._scopes(email, ip):
            if scope.name == "account" and await self._is_known(email, ip):
                continue
            left = await self._locked_for(scope.key)
            if left:
                log.info("auth.sign_in_locked", scope=scope.name, retry_after=left)
                raise refusal(left)

    async def failed(self, email: str, ip: str | None) -> Lockout | None:
        """Count a failure; the longest lockout it started, if any."""
        if not self.limits.enabled:
            return None
        started: list[Lockout] = []
        for scope in self._scopes(email, ip):
            for item in scope.items:
                limiter = self.limits.limiter
                await self.limits.safely(limiter.hit(item, FAILURES, scope.key), True)
                stats = await self.limits.safely(
                    limiter.get_window_stats(item, FAILURES, scope.key), None
                )
                if stats is not None and stats.remaining <= 0:
                    started.append(await self._lock(scope))
                    break
        return max(started, key=lambda lockout: lockout.seconds, default=None)

    async def _lock(self, scope: _Scope) -> Lockout:
        """Start the next, longer lockout and open a fresh failure window after it."""
        level_key, lock_key = f"sign_in_level/{scope.key}", f"sign_in_lock/{scope.key}"
        level = await self.limits.safely(self.storage.get(level_key), 0) + 1
        seconds = min(self.base_seconds * 2 ** min(level - 1, 30), self.max_seconds)
        # Counters only know "increment, expiring in N s": clear, then add the wanted value.
        await self.limits.safely(self.storage.clear(level_key), None)
        await self.limits.safely(self.storage.incr(level_key, LEVEL_TTL_SECONDS, level), 0)
        await self.limits.safely(self.storage.clear(lock_key), None)
        await self.limits.safely(self.storage.incr(lock_key, seconds), 0)
        for item in scope.items:
            await self.limits.safely(self.limits.limiter.clear(item, FAILURES, scope.key), None)
        return Lockout(scope.name, seconds, level)

    async def succeeded(self, email: str, ip: str | None) -> None:
        """The owner is back: forget failures and lockouts, remember this address."""
        if not self.limits.enabled:
            return
        for scope in self._scopes(email, ip):
            for key in (f"sign_in_level/{scope.key}", f"sign_in_lock/{scope.key}"):
                await self.limits.safely(self.storage.clear(key), None)
            for item in scope.items:
                await self.limits.safely(self.limits.limiter.clear(item, FAILURES, scope.key), None)
        if ip:
            known = self._known_key(email, ip)
            await self.limits.safely(self.storage.clear(known), None)
            await self.limits.safely(self.storage.incr(known, KNOWN_ADDRESS_TTL_SECONDS), 0)
