"""Several backend workers sharing answers, stops, claims, notices and configuration.

Two ChatRuns (and ConversationEvents, ConfigSync) in one test process play two workers, each
with its own broker: in memory (sharing a hub) and on the real Redis of this machine (skipped
when it is not reachable). The answers run against the Ollama-protocol test server.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from tests.integration.test_chat_runs import backend, server
from tests.ollama_server import PLAIN_REPLY
from youworker.db import session_scope
from youworker.models import Message, MessageStatus, User
from youworker.models.base import utcnow
from youworker.services import chat
from youworker.services.broker import Broker, MemoryBroker, MemoryHub
from youworker.services.broker.redis import RedisBroker
from youworker.services.chat.events import ConversationEvents
from youworker.services.chat.runs import ChatRuns, RunSnapshot, claim_key
from youworker.services.config_sync import ConfigSync
from youworker.services.encryption import get_cipher
from youworker.services.errors import Conflict, NotFound
from youworker.services.llm.base import LLMBackend
from youworker.services.llm.ollama import OllamaBackend
from youworker.services.tools.registry import ToolRegistry

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_BOUND_S = 30.0  # an upper bound on any one wait, not a performance threshold


__all__ = ["backend", "server"]  # fixtures shared with test_chat_runs


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@dataclass
class Workers:
    """Two workers' brokers, a third worker's (about to die), and how a claim lapses."""

    a: Broker
    b: Broker
    dying: Broker
    expire: Callable[[str], Awaitable[None]]


@pytest.fixture(
    params=[
        "memory",
        pytest.param(
            "redis",
            marks=pytest.mark.skipif(
                not _redis_reachable(), reason="Redis not reachable at 127.0.0.1:6379"
            ),
        ),
    ]
)
async def workers(request: pytest.FixtureRequest) -> AsyncIterator[Workers]:
    if request.param == "memory":
        hub = MemoryHub()

        async def lapse(key: str) -> None:
            token, _ = hub.claims[key]
            hub.claims[key] = (token, hub.clock())  # its TTL runs out now

        yield Workers(MemoryBroker(hub), MemoryBroker(hub), MemoryBroker(hub), lapse)
        return
    prefix = f"youworker-test-{uuid.uuid4().hex[:8]}"
    admin = aioredis.Redis.from_url(REDIS_URL)

    async def expire(key: str) -> None:
        await admin.pexpire(f"{prefix}:{key}", 0)  # a TTL of 0 is Redis's own expiry, at once

    a, b, dying = (RedisBroker(REDIS_URL, prefix) for _ in range(3))
    await a.start()
    await b.start()
    try:
        yield Workers(a, b, dying, expire)
    finally:
        for broker in (a, b, dying):
            await broker.close()
        keys = [key async for key in admin.scan_iter(f"{prefix}:*")]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()


@dataclass
class TwoRuns:
    a: ChatRuns
    b: ChatRuns
    workers: Workers


@pytest.fixture
async def runs(engine: object, backend: OllamaBackend, workers: Workers) -> AsyncIterator[TwoRuns]:
    async def resolve() -> tuple[LLMBackend, str]:
        return backend, "test-plain"

    pair = TwoRuns(
        ChatRuns(resolve, ToolRegistry(), workers.a),
        ChatRuns(resolve, ToolRegistry(), workers.b),
        workers,
    )
    yield pair
    await pair.a.shutdown()
    await pair.b.shutdown()


async def wait_until(
    runs: ChatRuns, conversation_id: uuid.UUID, done: Callable[[RunSnapshot], bool]
) -> RunSnapshot:
    """Follow the conversation on one worker, as a tab there does, until `done` holds."""

    async def follow() -> RunSnapshot:
        await runs.follow(conversation_id)
        while True:
            seen = runs.version(conversation_id)
            snapshot = runs.snapshot(conversation_id)
            if snapshot is not None and done(snapshot):
                return snapshot
            await runs.wait_for_change(conversation_id, seen, timeout_s=RUN_BOUND_S)

    return await asyncio.wait_for(follow(), RUN_BOUND_S)


async def stored(actor: User, conversation_id: uuid.UUID) -> list[chat.MessageView]:
    async with session_scope() as fresh:
        return (await chat.list_messages(fresh, actor, conversation_id, limit=100)).messages


# --- answers across workers -------------------------------------------------------------------


async def test_a_follower_on_another_worker_sees_the_answer_to_its_end(
    db: AsyncSession, alice: User, runs: TwoRuns
) -> None:
    cid = (await chat.create_conversation(db, alice)).id
    answer_id = await runs.a.start(alice, cid, "Hello from worker A")

    seen_on_b = await wait_until(
        runs.b, cid, lambda s: s.message_id == str(answer_id) and s.finished
    )

    assert seen_on_b.status == "complete" and seen_on_b.text == PLAIN_REPLY
    assert [m.content for m in await stored(alice, cid)] == ["Hello from worker A", PLAIN_REPLY]


async def test_a_follower_on_another_worker_sees_the_answer_grow(
    db: AsyncSession, alice: User, runs: TwoRuns
) -> None:
    cid = (await chat.create_conversation(db, alice, model="test-slow")).id
    await runs.a.start(alice, cid, "Slowly, please")

    first = await wait_until(runs.b, cid, lambda s: "tok1 " in s.text)
    later = await wait_until(runs.b, cid, lambda s: len(s.text) > len(first.text))

    assert not later.finished and later.text.startswith(first.text)
    assert runs.b.is_running(cid)
    assert await runs.a.stop(alice, cid)


async def test_stop_from_another_worker_stops_the_answer_where_it_runs(
    db: AsyncSession, alice: User, bob: User, runs: TwoRuns
) -> None:
    cid = (await chat.create_conversation(db, alice, model="test-slow")).id
    await runs.a.start(alice, cid, "Go on until stopped")
    await wait_until(runs.b, cid, lambda s: "tok1 " in s.text)

    with pytest.raises(NotFound):
        await runs.b.stop(bob, cid)  # someone else's conversation stays unknown on B too
    assert await runs.b.stop(alice, cid)

    on_a = await wait_until(runs.a, cid, lambda s: s.finished)
    on_b = await wait_until(runs.b, cid, lambda s: s.finished)
    assert on_a.status == on_b.status == "stopped"
    assert not runs.a.is_running(cid) and not runs.b.is_running(cid)
    answer = (await stored(alice, cid))[-1]
    assert answer.status == "stopped" and answer.content == on_a.text
    assert not await runs.b.stop(alice, cid)  # nothing left to stop


async def test_a_claim_on_one_worker_refuses_a_second_answer_on_the_other(
    db: AsyncSession, alice: User, runs: TwoRuns
) -> None:
    cid = (await chat.create_conversation(db, alice, model="test-slow")).id
    await runs.a.start(alice, cid, "First question")

    with pytest.raises(Conflict):
        await runs.b.start(alice, cid, "Second question from another tab")
    assert [m.content for m in await stored(alice, cid) if m.role == "user"] == ["First question"]

    assert await runs.a.stop(alice, cid)
    await chat.set_model(db, alice, cid, "test-plain")
    answer_id = await runs.b.start(alice, cid, None)  # free again once A's answer ended
    done = await wait_until(runs.a, cid, lambda s: s.message_id == str(answer_id) and s.finished)
    assert done.status == "complete" and done.text == PLAIN_REPLY


async def test_an_answer_whose_worker_died_is_marked_interrupted_and_a_live_one_is_not(
    db: AsyncSession, alice: User, runs: TwoRuns
) -> None:
    # A third worker was writing an answer and died: its row says "streaming", its claim lapses.
    dead = (await chat.create_conversation(db, alice)).id
    await chat.add_user_message(db, alice, dead, "Asked before the crash")
    orphan = Message(
        conversation_id=dead,
        role="assistant",
        content_enc=get_cipher().encrypt("half an ans"),
        status=MessageStatus.STREAMING,
        model="test-plain",
        created_at=utcnow(),
    )
    db.add(orphan)
    await db.commit()
    assert await runs.workers.dying.claim(claim_key(dead), 30.0) is not None
    # Meanwhile worker A writes an answer elsewhere, renewing its own claim.
    alive = (await chat.create_conversation(db, alice, model="test-slow")).id
    await runs.a.start(alice, alive, "Still being answered")
    await wait_until(runs.b, alive, lambda s: bool(s.text))

    assert await runs.b.mark_interrupted() == 0  # the dead worker's claim has not lapsed yet

    await runs.workers.expire(claim_key(dead))  # it stopped renewing: the TTL ran out
    assert await runs.b.mark_interrupted() == 1

    answer = (await stored(alice, dead))[-1]
    assert answer.status == "stopped" and answer.error_code == "interrupted"
    assert answer.content == "half an ans"
    told = await wait_until(runs.a, dead, lambda s: s.finished)
    assert told.status == "stopped" and told.error_code == "interrupted"
    assert (await stored(alice, alive))[-1].status == "streaming"
    assert runs.a.is_running(alive)
    assert await runs.a.stop(alice, alive)


# --- notices and configuration ----------------------------------------------------------------


async def test_a_change_notice_on_one_worker_wakes_a_waiter_on_the_other(
    workers: Workers,
) -> None:
    on_a, on_b = ConversationEvents(workers.a), ConversationEvents(workers.b)
    user = uuid.uuid4()
    seen = on_b.version(user)
    waiter = asyncio.create_task(on_b.wait(user, seen, RUN_BOUND_S))

    on_a.changed(user, origin="tab-on-a")

    change = await asyncio.wait_for(waiter, RUN_BOUND_S)
    assert change is not None and change.version == seen + 1
    assert change.only_origin == "tab-on-a"  # so that tab itself has nothing to refresh
    assert on_a.version(user) == 1


async def test_a_configuration_change_on_one_worker_reloads_the_other(workers: Workers) -> None:
    reloads: dict[str, int] = {"a": 0, "b": 0}
    reloaded_b = asyncio.Event()

    def reloader(name: str) -> Callable[[], Awaitable[None]]:
        async def reload() -> None:
            reloads[name] += 1
            if name == "b":
                reloaded_b.set()

        return reload

    on_a, on_b = ConfigSync(workers.a, reloader("a")), ConfigSync(workers.b, reloader("b"))
    await on_a.loaded()
    await on_b.loaded()

    await on_a.changed()
    await on_b.current()  # a worker about to use the configuration catches up first
    await asyncio.wait_for(reloaded_b.wait(), RUN_BOUND_S)

    assert reloads == {"a": 0, "b": 1}  # the notice arriving too does not reload twice
    assert on_b.applied == on_a.applied == 1
    await on_a.current()
    assert reloads["a"] == 0


# --- the broker itself ------------------------------------------------------------------------


async def test_claims_are_exclusive_renewable_and_released_only_by_their_holder(
    workers: Workers,
) -> None:
    key = f"claim-{uuid.uuid4().hex}"
    token = await workers.a.claim(key, 30.0)
    assert token is not None
    assert await workers.b.claim(key, 30.0) is None
    assert await workers.b.holder(key) == token
    assert await workers.b.renew(key, "not-the-token", 30.0) is False
    await workers.b.release(key, "not-the-token")
    assert await workers.a.renew(key, token, 30.0)
    await workers.a.release(key, token)
    assert await workers.b.holder(key) is None
    assert await workers.b.claim(key, 30.0) is not None


async def test_messages_reach_the_other_worker_in_order_and_coalesce(workers: Workers) -> None:
    received: list[str] = []
    got_last = asyncio.Event()

    def on_message(message: str) -> None:
        received.append(message)
        if message == "final":
            got_last.set()

    own: list[str] = []
    workers.b.subscribe("probe", on_message)
    workers.a.subscribe("probe", own.append)
    for step in range(50):
        workers.a.publish("probe", f"step {step}", coalesce="answer", keep_s=60)
    workers.a.publish("probe", "final")
    await workers.a.flush()
    await asyncio.wait_for(got_last.wait(), RUN_BOUND_S)

    assert received[-2:] == ["step 49", "final"]  # older steps may have been coalesced away
    assert [int(m.split()[1]) for m in received[:-1]] == sorted(
        int(m.split()[1]) for m in received[:-1]
    )
    assert own == []  # a worker is not told what it published itself
    assert await workers.b.last("probe", "answer") == "step 49"


async def test_counters_start_at_zero_and_are_shared(workers: Workers) -> None:
    key = f"counter-{uuid.uuid4().hex}"
    assert await workers.b.counter(key) == 0
    assert await workers.a.incr(key) == 1
    assert await workers.b.incr(key) == 2
    assert await workers.a.counter(key) == 2
