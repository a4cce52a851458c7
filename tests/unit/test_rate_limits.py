"""Rate limit rules and the sign-in lockout on in-memory counters, with a fake clock (no sleeps)."""

from __future__ import annotations

import limits.aio.storage.memory
import pytest
from limits.aio.storage import MemoryStorage

from youworker.services.errors import RateLimited
from youworker.services.rate_limits import RateLimits, format_wait
from youworker.services.sign_in_throttle import Lockout, SignInThrottle
from youworker.settings import RateLimitSettings, SettingsError, load_settings, parse_rate_limits

EMAIL = "owner@example.com"
ATTACKER, OWNER_HOME, OTHER = "198.51.100.66", "203.0.113.10", "192.0.2.44"


class FakeClock:
    """Stands in for `time` inside limits' memory storage and for our own clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(limits.aio.storage.memory, "time", fake)
    return fake


def make(clock: FakeClock, **overrides: object) -> RateLimits:
    settings = RateLimitSettings(**overrides)  # type: ignore[arg-type]
    return RateLimits(settings, MemoryStorage(), clock=clock)


# ---- settings ------------------------------------------------------------------------------


def test_limit_strings_parse_in_limits_notation() -> None:
    assert [(i.amount, i.get_expiry()) for i in parse_rate_limits("20/minute")] == [(20, 60)]
    assert [(i.amount, i.get_expiry()) for i in parse_rate_limits("5/15 minutes")] == [(5, 900)]
    assert len(parse_rate_limits("10/hour;100/day")) == 2
    assert parse_rate_limits("  ") == []  # empty: that limit is off


@pytest.mark.parametrize("bad", ["lots", "20 a minute", "0/minute", "-3/hour", "5/fortnight"])
def test_a_bad_limit_stops_the_start_naming_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match="RATE_LIMIT__MESSAGES_PER_USER") as info:
        load_settings(rate_limit={"messages_per_user": bad})
    assert repr(bad) in str(info.value)


def test_defaults_are_valid_and_enabled() -> None:
    settings = load_settings().rate_limit
    assert settings.enabled
    assert parse_rate_limits(settings.sign_in_per_account)[0].amount == 5
    assert settings.lockout_seconds == 30 and settings.lockout_max_seconds == 900


def test_waits_read_as_seconds_then_minutes() -> None:
    assert format_wait(42) == "42 s"
    assert format_wait(61) == "2 min"
    assert format_wait(900) == "15 min"


# ---- plain limits --------------------------------------------------------------------------


async def test_over_the_limit_raises_with_the_wait_until_a_slot_frees(clock: FakeClock) -> None:
    limits_ = make(clock, messages_per_user="3/minute")
    for _ in range(3):
        await limits_.check_message("u1")
        clock.advance(10)
    with pytest.raises(RateLimited) as info:
        await limits_.check_message("u1")
    # Hits at 0, 10 and 20 s; now is 30 s: the first one has left the window after 30 s.
    assert info.value.retry_after_seconds == 31
    assert info.value.message == "You are sending messages too fast. Try again in 31 s."
    await limits_.check_message("u2")  # another user has their own window
    clock.advance(29)
    with pytest.raises(RateLimited):
        await limits_.check_message("u1")
    clock.advance(2)
    await limits_.check_message("u1")


async def test_every_window_of_a_combined_limit_applies(clock: FakeClock) -> None:
    limits_ = make(clock, upload_files_per_user="2/second;3/hour")
    await limits_.check_upload("u", 10)
    await limits_.check_upload("u", 10)
    with pytest.raises(RateLimited):
        await limits_.check_upload("u", 10)
    clock.advance(2)
    await limits_.check_upload("u", 10)
    clock.advance(2)
    with pytest.raises(RateLimited) as info:
        await limits_.check_upload("u", 10)
    assert "You have uploaded too many files." in info.value.message
    assert info.value.retry_after_seconds == 3600 - 4 + 1


async def test_a_thousand_file_import_fits_the_default_upload_budgets(clock: FakeClock) -> None:
    limits_ = make(clock)
    for _ in range(1000):
        await limits_.check_upload("importer", 20_000)  # a manual's pages: ~20 KB each
    for _ in range(1000):
        await limits_.check_upload("importer", 20_000)
    with pytest.raises(RateLimited, match="too many files"):
        await limits_.check_upload("importer", 20_000)  # a flood of files still is refused
    await limits_.check_upload("someone else", 20_000)


async def test_megabytes_count_by_size_and_a_refused_file_uses_neither_budget(
    clock: FakeClock,
) -> None:
    megabyte = 1024 * 1024
    limits_ = make(clock, upload_files_per_user="3/hour", upload_mb_per_user="10/hour")
    await limits_.check_upload("u", 6 * megabyte)
    with pytest.raises(RateLimited, match="too much data"):
        await limits_.check_upload("u", 5 * megabyte)
    await limits_.check_upload("u", 4 * megabyte)  # 6 + 4 = 10: the refused 5 MB took nothing
    with pytest.raises(RateLimited, match="too much data"):
        await limits_.check_upload("u", 1)  # any file counts at least 1 MB


async def test_disabled_limits_never_refuse(clock: FakeClock) -> None:
    limits_ = make(clock, enabled=False, api_per_key="1/hour", sign_in_per_account="1/hour")
    for _ in range(5):
        await limits_.check_api("key")
    throttle = SignInThrottle(limits_)
    for _ in range(5):
        await throttle.before_attempt(EMAIL, ATTACKER)
        assert await throttle.failed(EMAIL, ATTACKER) is None


async def test_an_empty_limit_is_off(clock: FakeClock) -> None:
    limits_ = make(clock, register_per_ip="")
    for _ in range(50):
        await limits_.check_register("192.0.2.1")


async def test_registration_without_an_address_is_not_counted(clock: FakeClock) -> None:
    """The CLI and internal callers pass no request context."""
    limits_ = make(clock, register_per_ip="1/hour")
    await limits_.check_register(None)
    await limits_.check_register(None)
    await limits_.check_register("192.0.2.1")
    with pytest.raises(RateLimited, match="Too many registrations"):
        await limits_.check_register("192.0.2.1")


# ---- sign-in lockout -----------------------------------------------------------------------


def throttle_for(clock: FakeClock, **overrides: object) -> SignInThrottle:
    settings: dict[str, object] = {
        "sign_in_per_ip": "1000/minute",
        "sign_in_per_account": "3/15 minutes",
        "sign_in_per_account_all_ips": "6/hour",
        "lockout_seconds": 30,
        "lockout_max_seconds": 100,
    }
    return SignInThrottle(make(clock, **(settings | overrides)))


async def fail_until_locked(throttle: SignInThrottle, ip: str) -> Lockout:
    """Failures from `ip` until one starts a lockout (refusals in between would be a bug)."""
    for _ in range(10):
        await throttle.before_attempt(EMAIL, ip)
        lockout = await throttle.failed(EMAIL, ip)
        if lockout is not None:
            return lockout
    raise AssertionError("no lockout after 10 failures")


async def locked_for(throttle: SignInThrottle, ip: str) -> int:
    with pytest.raises(RateLimited) as info:
        await throttle.before_attempt(EMAIL, ip)
    assert info.value.message.startswith("Too many sign-in attempts. Try again in ")
    return info.value.retry_after_seconds


async def test_failures_lock_the_account_from_that_address(clock: FakeClock) -> None:
    throttle = throttle_for(clock)
    for _ in range(2):
        await throttle.before_attempt(EMAIL, ATTACKER)
        assert await throttle.failed(EMAIL, ATTACKER) is None
    await throttle.before_attempt(EMAIL, ATTACKER)
    assert await throttle.failed(EMAIL, ATTACKER) == Lockout("account_ip", 30, 1)
    assert await locked_for(throttle, ATTACKER) == 30
    clock.advance(12)
    assert await locked_for(throttle, ATTACKER) == 18
    clock.advance(18)
    await throttle.before_attempt(EMAIL, ATTACKER)  # over: attempts run again


async def test_lockouts_grow_and_stop_at_the_cap(clock: FakeClock) -> None:
    throttle = throttle_for(clock, sign_in_per_account_all_ips="1000/hour")
    seconds = []
    for _ in range(5):
        lockout = await fail_until_locked(throttle, ATTACKER)
        assert await locked_for(throttle, ATTACKER) == lockout.seconds
        seconds.append(lockout.seconds)
        clock.advance(lockout.seconds)
    assert seconds == [30, 60, 100, 100, 100]


async def test_a_successful_sign_in_resets_the_growth(clock: FakeClock) -> None:
    throttle = throttle_for(clock)
    first = await fail_until_locked(throttle, OWNER_HOME)
    clock.advance(first.seconds)
    assert (await fail_until_locked(throttle, OWNER_HOME)).seconds == 60
    clock.advance(60)
    await throttle.before_attempt(EMAIL, OWNER_HOME)
    await throttle.succeeded(EMAIL, OWNER_HOME)
    # Fresh start: three failures again before the next lockout, and it is the short one.
    assert await fail_until_locked(throttle, OWNER_HOME) == Lockout("account_ip", 30, 1)


async def test_an_attacker_address_does_not_lock_the_owner_out(clock: FakeClock) -> None:
    throttle = throttle_for(clock)
    lockout = await fail_until_locked(throttle, ATTACKER)
    assert await locked_for(throttle, ATTACKER) == lockout.seconds
    # The owner, from their own address, is not refused ...
    await throttle.before_attempt(EMAIL, OWNER_HOME)
    await throttle.succeeded(EMAIL, OWNER_HOME)
    # ... and their success does not free the attacker's address early.
    assert await locked_for(throttle, ATTACKER) > 0


async def test_many_addresses_lock_the_account_but_not_where_the_owner_signs_in(
    clock: FakeClock,
) -> None:
    throttle = throttle_for(clock, sign_in_per_account="100/15 minutes")
    await throttle.succeeded(EMAIL, OWNER_HOME)  # the owner signed in from home before
    lockouts = []
    for n in range(6):
        await throttle.before_attempt(EMAIL, f"198.51.100.{n}")
        lockouts.append(await throttle.failed(EMAIL, f"198.51.100.{n}"))
    assert lockouts[-1] == Lockout("account", 30, 1) and lockouts[:-1] == [None] * 5
    assert await locked_for(throttle, OTHER) == 30  # any new address waits ...
    await throttle.before_attempt(EMAIL, OWNER_HOME)  # ... the owner's known one does not


async def test_a_lockout_never_outlasts_the_cap(clock: FakeClock) -> None:
    throttle = throttle_for(clock, sign_in_per_account="100/15 minutes")
    for round_ in range(4):
        for n in range(6):
            ip = f"198.51.{round_}.{n}"
            await throttle.before_attempt(EMAIL, ip)
            lockout = await throttle.failed(EMAIL, ip)
        assert lockout is not None and lockout.seconds <= 100
        assert await locked_for(throttle, OTHER) <= 100
        clock.advance(lockout.seconds)
        await throttle.before_attempt(EMAIL, OTHER)


async def test_too_many_attempts_from_one_address_are_refused(clock: FakeClock) -> None:
    throttle = throttle_for(clock, sign_in_per_ip="4/minute")
    for n in range(4):
        await throttle.before_attempt(f"user{n}@example.com", ATTACKER)
    with pytest.raises(RateLimited, match="Too many sign-in attempts") as info:
        await throttle.before_attempt("someone@example.com", ATTACKER)
    assert info.value.retry_after_seconds == 61
    await throttle.before_attempt("someone@example.com", OTHER)
