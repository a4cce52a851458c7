"""Reflex's Redis state store, sealed: nothing readable at rest, nothing foreign unpickled.

Against the real Redis on this machine (TEST_REDIS_URL; skipped when absent). The e2e test
tests/e2e/test_attack_state_store.py scans the store of the running app after a whole session.
"""

from __future__ import annotations

import os
import pickle
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from cryptography.fernet import Fernet
from redis.asyncio import Redis

import rxconfig
from youworker.settings import load_settings
from youworker.state.account import AccountState
from youworker.state.store import SealedStateManagerRedis, StateSeal, sealed

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MARKER = "state-store-marker"


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_reachable(), reason="Redis not reachable")


@pytest.fixture
async def client() -> AsyncIterator[Redis]:
    redis = Redis.from_url(REDIS_URL)
    yield redis
    await redis.aclose()


def _manager(client: Redis, key: str) -> SealedStateManagerRedis:
    return SealedStateManagerRedis(redis=client, seal=StateSeal([key]))


async def _store_a_signed_in_tab(manager: SealedStateManagerRedis, ident: str) -> str:
    """A tab as a page leaves it: its user, what it shows, the cookie of its websocket."""
    from reflex.istate.manager.token import BaseStateToken

    secret = f"{MARKER}-{uuid.uuid4().hex}"
    token = BaseStateToken(ident=ident, cls=AccountState)
    root = await manager.get_state(token)
    account = await root.get_state(AccountState)
    account.user_email = f"{secret}@example.com"
    account.sessions = [{"id": "1", "ip": "10.0.0.1", "user_agent": secret}]
    root.router_data = {"headers": {"cookie": f"yw_session={secret}"}, "pathname": "/account"}
    await manager.set_state(token, root)
    return secret


async def _raw_values(client: Redis, ident: str) -> list[bytes]:
    keys = [key async for key in client.scan_iter(match=f"{ident}*")]
    return [value for value in await client.mget(keys) if value is not None] if keys else []


async def test_stored_states_are_sealed_and_open_again(client: Redis) -> None:
    key = Fernet.generate_key().decode()
    ident = str(uuid.uuid4())
    secret = await _store_a_signed_in_tab(_manager(client, key), ident)

    raw = await _raw_values(client, ident)
    assert raw, "the states were written"
    assert not [value for value in raw if secret.encode() in value or b"yw_session" in value]

    from reflex.istate.manager.token import BaseStateToken

    again = await _manager(client, key).get_state(BaseStateToken(ident=ident, cls=AccountState))
    account = await again.get_state(AccountState)
    assert account.user_email == f"{secret}@example.com"
    assert account.sessions[0]["user_agent"] == secret


async def test_states_not_sealed_with_our_key_are_dropped_unread(client: Redis) -> None:
    from reflex.istate.manager.token import BaseStateToken

    ident = str(uuid.uuid4())
    await _store_a_signed_in_tab(_manager(client, Fernet.generate_key().decode()), ident)
    token = BaseStateToken(ident=ident, cls=AccountState)
    other_key = await _manager(client, Fernet.generate_key().decode()).get_state(token)
    assert (await other_key.get_state(AccountState)).user_email == ""

    # A payload someone else wrote (Reflex would unpickle it) is never unpickled.
    keys = [key async for key in client.scan_iter(match=f"{ident}*")]
    planted = pickle.dumps(("schema", "not a state"))
    await client.mset(dict.fromkeys(keys, planted))
    fresh = await _manager(client, Fernet.generate_key().decode()).get_state(token)
    assert (await fresh.get_state(AccountState)).user_email == ""


def test_the_store_is_chosen_on_purpose() -> None:
    """Memory for one process, Redis for several, never Reflex's disk default."""
    assert rxconfig.config.state_manager_mode.value in ("memory", "redis")
    assert "state_manager_mode" in rxconfig.config._non_default_attributes
    with_redis = load_settings(redis={"url": REDIS_URL})
    from reflex.istate.manager.memory import StateManagerMemory
    from reflex.istate.manager.redis import StateManagerRedis

    memory = StateManagerMemory()
    assert sealed(memory, with_redis) is memory
    plain = StateManagerRedis(redis=Redis.from_url(REDIS_URL))
    assert isinstance(sealed(plain, with_redis), SealedStateManagerRedis)


async def test_the_broker_keeps_answers_in_redis_encrypted(client: Redis) -> None:
    """An answer's latest text, kept for tabs that start following late, is not readable."""
    from youworker.services.broker.redis import RedisBroker

    prefix = f"youworker-test-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(REDIS_URL, prefix)
    await broker.start()
    text = f"{MARKER} {uuid.uuid4().hex} the answer so far"
    try:
        broker.publish("runs:x", text, coalesce="x", keep_s=60)
        await broker.flush()
        raw = await client.get(f"{prefix}:last:runs:x:x")
        assert raw is not None and text.encode() not in raw
        assert await broker.last("runs:x", "x") == text
    finally:
        await broker.close()
        await client.delete(f"{prefix}:last:runs:x:x")
