"""Rate limit counters in the real Redis on this machine (skipped when absent), and failing open."""

from __future__ import annotations

import uuid

import pytest
import structlog

from tests.integration.test_redis import REDIS_URL, _redis_reachable
from youworker.services.errors import RateLimited
from youworker.services.rate_limits import RateLimits, make_storage
from youworker.services.sign_in_throttle import Lockout, SignInThrottle
from youworker.settings import RateLimitSettings

needs_redis = pytest.mark.skipif(
    not _redis_reachable(), reason="Redis not reachable at 127.0.0.1:6379"
)
SETTINGS = RateLimitSettings(
    messages_per_user="3/minute",
    sign_in_per_account="2/15 minutes",
    lockout_seconds=40,
)


def worker(url: str = REDIS_URL) -> RateLimits:
    """What each backend worker builds from the same REDIS__URL."""
    return RateLimits(SETTINGS, make_storage(url))


@needs_redis
async def test_two_workers_share_their_counters() -> None:
    first, second = worker(), worker()
    user = uuid.uuid4().hex  # counters outlive the test in Redis: never reuse a key
    await first.check_message(user)
    await second.check_message(user)
    await first.check_message(user)
    with pytest.raises(RateLimited) as info:
        await second.check_message(user)
    assert 0 < info.value.retry_after_seconds <= 61


@needs_redis
async def test_a_lockout_started_on_one_worker_holds_on_the_other() -> None:
    email, ip = f"{uuid.uuid4().hex}@example.com", "198.51.100.9"
    on_first, on_second = SignInThrottle(worker()), SignInThrottle(worker())
    assert await on_first.failed(email, ip) is None
    assert await on_second.failed(email, ip) == Lockout("account_ip", 40, 1)
    with pytest.raises(RateLimited) as info:
        await on_first.before_attempt(email, ip)
    assert 38 <= info.value.retry_after_seconds <= 40
    await on_first.before_attempt(email, "203.0.113.10")  # another address is not locked
    await on_second.succeeded(email, ip)
    await on_first.before_attempt(email, ip)  # a success anywhere ends it everywhere


async def test_an_unreachable_redis_lets_requests_through_and_warns() -> None:
    down = worker("redis://127.0.0.1:9/0")  # nothing listens there
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            await down.check_message("someone")
        throttle = SignInThrottle(down)
        await throttle.before_attempt("a@example.com", "192.0.2.1")
        assert await throttle.failed("a@example.com", "192.0.2.1") is None
        await throttle.succeeded("a@example.com", "192.0.2.1")
    warnings = [e for e in logs if e["event"] == "rate_limit.storage_unavailable"]
    assert len(warnings) == 1  # one warning, not one per request
    assert warnings[0]["log_level"] == "warning"
