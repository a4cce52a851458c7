"""Benchmark 3: opening a 1,000-message conversation for a user who has 5,000 conversations.

The database is seeded in bulk with the app's own tables and cipher (every message text is a
Fernet token, as the app stores it). One "open" is what `ChatState.load` does on the server for
/chat/<id>, each step in its own session as there: the first sidebar page
(`chat.list_conversations`), the ownership check (`chat.get_owned`) and the latest page of the
thread (`chat.list_messages`, decrypted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import BenchResult, bench_main, median, ms, percentile, quiet_app_logs
from bench.dbsetup import (
    Database,
    configure_app_env,
    postgres_database,
    postgres_unavailable_reason,
    sqlite_database,
)
from bench.profiling import cprofile_summary

if TYPE_CHECKING:
    from youworker.models import User

CONVERSATIONS = 5000
MESSAGES = 1000
OTHER_CONVERSATIONS = 1000  # another user's, so the owner filter has something to skip
SIDEBAR_PAGE = 30  # ChatState.SIDEBAR_PAGE
THREAD_PAGE = 50  # ChatState.THREAD_PAGE
DEEP_PAGE = 100  # the sidebar page measured through the cursor (conversations 2,971-3,000)
RUNS = 20
WARMUPS = 2
TARGET_S = 1.0
INSERT_CHUNK = 1000

log = logging.getLogger("bench.open_conversation")

_VOCABULARY = (
    "the model answer document team project report data server user query result value "
    "table chart budget meeting plan draft review summary python function error test build "
    "deploy config index search vector embedding token stream cache latency memory disk "
    "network request response policy access group invoice customer order quarter revenue"
)
WORDS = _VOCABULARY.split()


def _text(rng: random.Random, low: int, high: int, markdown: bool = False) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    text = " ".join(words).capitalize() + "."
    if markdown and rng.random() < 0.3:
        code = "\n".join(f"    {rng.choice(WORDS)} = {rng.randint(0, 999)}" for _ in range(5))
        text += f"\n\n```python\n{code}\n```\n\n- {rng.choice(WORDS)}\n- {rng.choice(WORDS)}"
    return text


@dataclass
class Seeded:
    user: User
    big_id: uuid.UUID
    last_text: str
    middle_message_id: uuid.UUID
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


async def _insert(table: Any, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    from youworker.db import session_scope

    async with session_scope() as db:
        for start in range(0, len(rows), INSERT_CHUNK):
            await db.execute(insert(table), rows[start : start + INSERT_CHUNK])
        await db.commit()


def _conversations(
    owner: uuid.UUID, count: int, now: datetime, seal: Callable[[str], str]
) -> list[dict[str, Any]]:
    # Titles are encrypted like messages (services/chat_titles.py).
    return [
        {
            "id": uuid.uuid4(),
            "owner_id": owner,
            "title_enc": seal(
                f"Conversation {i}: {WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]}"
            ),
            "model": "llama3.2",
            "disabled_tools": [],
            "created_at": now - timedelta(minutes=count - i, seconds=30),
            "updated_at": now - timedelta(minutes=count - i),
        }
        for i in range(count)
    ]


async def seed(rng: random.Random) -> Seeded:
    """One user with CONVERSATIONS conversations (the newest has MESSAGES messages), fast."""
    from youworker.db import session_scope
    from youworker.models import Conversation, Message, ToolCall, User
    from youworker.services.encryption import get_cipher

    cipher = get_cipher()
    started = time.perf_counter()
    now = datetime.now(UTC)
    async with session_scope() as db:
        user = User(email="owner@example.com", display_name="Owner", password_hash="-")  # noqa: S106 - never signs in
        other = User(email="other@example.com", display_name="Other", password_hash="-")  # noqa: S106
        db.add_all([user, other])
        await db.commit()
    conversations = _conversations(user.id, CONVERSATIONS, now, cipher.encrypt)
    conversations += _conversations(other.id, OTHER_CONVERSATIONS, now, cipher.encrypt)
    big = conversations[CONVERSATIONS - 1]  # the newest: top of the sidebar
    big["title_enc"] = cipher.encrypt("The long one")
    messages: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    thread_start = now - timedelta(days=30)
    last_text = ""
    for k in range(MESSAGES):
        role = "user" if k % 2 == 0 else "assistant"
        text = _text(rng, 8, 60) if role == "user" else _text(rng, 60, 400, markdown=True)
        message_id = uuid.uuid4()
        created = thread_start + timedelta(seconds=40 * k)
        messages.append(_message(message_id, big["id"], role, cipher.encrypt(text), created))
        if role == "assistant" and k % 10 == 1:
            tool_calls.append(
                {
                    "id": uuid.uuid4(),
                    "message_id": message_id,
                    "step": 0,
                    "name": "calculator",
                    "arguments_enc": cipher.encrypt('{"expression": "6*7"}'),
                    "result_enc": cipher.encrypt("42"),
                    "error_enc": None,
                    "ok": True,
                    "duration_ms": 3,
                    "created_at": created,
                }
            )
        last_text = text
    middle = messages[MESSAGES // 2]["id"]
    for conversation in conversations:
        if conversation is big:
            continue
        for k, role in enumerate(("user", "assistant")):
            text = _text(rng, 8, 40) if role == "user" else _text(rng, 40, 200)
            created = conversation["updated_at"] - timedelta(seconds=20 - k)
            messages.append(
                _message(uuid.uuid4(), conversation["id"], role, cipher.encrypt(text), created)
            )
    await _insert(Conversation, conversations)
    await _insert(Message, messages)
    await _insert(ToolCall, tool_calls)
    return Seeded(
        user=user,
        big_id=big["id"],
        last_text=last_text,
        middle_message_id=middle,
        rows={
            "conversations": len(conversations),
            "messages": len(messages),
            "tool calls": len(tool_calls),
        },
        seconds=time.perf_counter() - started,
    )


def _message(
    message_id: uuid.UUID, conversation_id: uuid.UUID, role: str, content: str, created: datetime
) -> dict[str, Any]:
    return {
        "id": message_id,
        "conversation_id": conversation_id,
        "role": role,
        "content_enc": content,
        "thinking_enc": None,
        "status": "complete",
        "model": "llama3.2" if role == "assistant" else None,
        "created_at": created,
        "completed_at": created,
    }


@dataclass
class Timings:
    sidebar: list[float] = field(default_factory=list)
    get_owned: list[float] = field(default_factory=list)
    messages: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)


async def open_conversation(seeded: Seeded) -> tuple[float, float, float]:
    """What ChatState.load does for /chat/<id> on the server; returns the three step times."""
    from youworker.db import session_scope
    from youworker.services import chat

    t0 = time.perf_counter()
    async with session_scope() as db:
        sidebar = await chat.list_conversations(db, seeded.user, limit=SIDEBAR_PAGE)
    t1 = time.perf_counter()
    async with session_scope() as db:
        conversation = await chat.get_owned(db, seeded.user, seeded.big_id)
    t2 = time.perf_counter()
    async with session_scope() as db:
        page = await chat.list_messages(db, seeded.user, conversation.id, limit=THREAD_PAGE)
    t3 = time.perf_counter()
    if (
        len(sidebar.items) != SIDEBAR_PAGE
        or sidebar.items[0].id != seeded.big_id
        or len(page.messages) != THREAD_PAGE
        or not page.has_more
        or page.messages[-1].content != seeded.last_text
    ):
        raise RuntimeError("opening the conversation returned something else than was seeded")
    return t1 - t0, t2 - t1, t3 - t2


async def _timed(call: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    times: list[float] = []
    for _ in range(runs):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    return times


@dataclass
class Outcome:
    database: Database
    seeded: Seeded
    cold: float
    open: Timings
    deep_page: list[float]
    last_page: list[float]
    search: list[float]
    search_all: list[float]  # a query no title matches: all 5,000 titles read and compared
    search_cold: list[float]  # the same with the decrypted-title cache emptied first
    older: list[float]
    pages_walked: int


async def _measure(database: Database, runs: int) -> Outcome:
    from youworker import db as db_module
    from youworker.db import session_scope
    from youworker.services import chat
    from youworker.services.chat import titles as chat_titles

    db_module.use_engine(db_module.create_engine_for(database.url))
    try:
        seeded = await seed(random.Random(3))  # noqa: S311 - filler text
        log.info("%s: seeded %s in %.1f s", database.backend, seeded.rows, seeded.seconds)
        # A fresh engine: the first open pays for new connections, like the first after a start.
        await db_module.dispose_engine()
        db_module.use_engine(db_module.create_engine_for(database.url))
        cold = sum(await open_conversation(seeded))
        for _ in range(WARMUPS):
            await open_conversation(seeded)
        timings = Timings()
        for _ in range(runs):
            sidebar, owned, messages = await open_conversation(seeded)
            timings.sidebar.append(sidebar)
            timings.get_owned.append(owned)
            timings.messages.append(messages)
            timings.total.append(sidebar + owned + messages)

        cursors: list[chat.ConversationCursor] = []
        cursor: chat.ConversationCursor | None = None
        while True:
            async with session_scope() as db:
                page = await chat.list_conversations(
                    db, seeded.user, after=cursor, limit=SIDEBAR_PAGE
                )
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
            cursors.append(cursor)
        deep_cursor, last_cursor = cursors[DEEP_PAGE - 2], cursors[-1]

        async def sidebar_page(after: chat.ConversationCursor) -> None:
            async with session_scope() as db:
                page = await chat.list_conversations(db, seeded.user, after=after, limit=30)
            if not page.items:
                raise RuntimeError("a later sidebar page came back empty")

        async def search() -> None:
            async with session_scope() as db:
                await chat.list_conversations(db, seeded.user, query="budget", limit=30)

        async def search_all() -> None:
            async with session_scope() as db:
                page = await chat.list_conversations(db, seeded.user, query="zebra", limit=30)
            if page.items:
                raise RuntimeError("no title holds 'zebra'")

        async def search_cold() -> None:
            chat_titles.clear_cache()
            await search_all()

        async def older() -> None:
            async with session_scope() as db:
                await chat.list_messages(
                    db, seeded.user, seeded.big_id, before=seeded.middle_message_id, limit=50
                )

        return Outcome(
            database=database,
            seeded=seeded,
            cold=cold,
            open=timings,
            deep_page=await _timed(lambda: sidebar_page(deep_cursor), runs),
            last_page=await _timed(lambda: sidebar_page(last_cursor), runs),
            search=await _timed(search, runs),
            search_all=await _timed(search_all, runs),
            search_cold=await _timed(search_cold, runs),
            older=await _timed(older, runs),
            pages_walked=len(cursors) + 1,
        )
    finally:
        await db_module.dispose_engine()


def _report(result: BenchResult, outcome: Outcome) -> bool:
    name = outcome.database.backend
    total = outcome.open.total
    deep = outcome.deep_page
    checks = [
        result.add(
            f"{name}: open conversation (sidebar + get_owned + latest {THREAD_PAGE}), median",
            ms(median(total)),
            "ms",
            f"<= {TARGET_S * 1000:g} ms",
            median(total) <= TARGET_S,
        ),
        result.add(
            f"{name}: open conversation, p95 of {len(total)}",
            ms(percentile(total, 95)),
            "ms",
            f"<= {TARGET_S * 1000:g} ms",
            percentile(total, 95) <= TARGET_S,
        ),
        result.add(
            f"{name}: sidebar page {DEEP_PAGE} via the cursor, p95",
            ms(percentile(deep, 95)),
            "ms",
            f"<= {TARGET_S * 1000:g} ms",
            percentile(deep, 95) <= TARGET_S,
        ),
        result.add(
            f"{name}: title search through all {CONVERSATIONS:,} encrypted titles, cold, p95",
            ms(percentile(outcome.search_cold, 95)),
            "ms",
            f"<= {TARGET_S * 1000:g} ms",
            percentile(outcome.search_cold, 95) <= TARGET_S,
        ),
    ]
    result.add(f"{name}: first open on fresh connections", ms(outcome.cold), "ms")
    result.details.append(
        f"{name}: seeded {outcome.seeded.rows['conversations']:,} conversations "
        f"({CONVERSATIONS:,} of the user's), {outcome.seeded.rows['messages']:,} encrypted "
        f"messages and {outcome.seeded.rows['tool calls']} tool calls in "
        f"{outcome.seeded.seconds:.1f} s. Open, median per step: sidebar "
        f"{ms(median(outcome.open.sidebar)):.1f} ms, get_owned "
        f"{ms(median(outcome.open.get_owned)):.1f} ms, latest messages "
        f"{ms(median(outcome.open.messages)):.1f} ms. Sidebar page {DEEP_PAGE} median "
        f"{ms(median(deep)):.1f} ms; last page ({outcome.pages_walked}) median "
        f"{ms(median(outcome.last_page)):.1f} ms; title search (encrypted titles) median "
        f"{ms(median(outcome.search)):.1f} ms for a page of matches, "
        f"{ms(median(outcome.search_all)):.1f} ms through all {CONVERSATIONS:,} titles "
        f"({ms(median(outcome.search_cold)):.1f} ms with the title cache empty); "
        f"50 older messages from the middle of the "
        f"thread median {ms(median(outcome.older)):.1f} ms."
    )
    return all(check.passed for check in checks)


def run(args: argparse.Namespace) -> list[BenchResult]:
    runs = 5 if args.quick else RUNS
    result = BenchResult(
        "open_conversation",
        f"3. Opening a {MESSAGES:,}-message conversation among {CONVERSATIONS:,}",
    )
    result.method.extend(
        [
            f"A fresh migrated database per backend, seeded in bulk: one user with "
            f"{CONVERSATIONS:,} conversations (the newest has {MESSAGES:,} messages, user and "
            f"assistant alternating, 8-60 and 60-400 words with some code blocks, a tool call on "
            f"every 5th answer; the others have 2 messages each) and a second user with "
            f"{OTHER_CONVERSATIONS:,} conversations. Texts are encrypted with the app's cipher.",
            "One open = `chat.list_conversations` (first page of "
            f"{SIDEBAR_PAGE}) + `chat.get_owned` + `chat.list_messages` (latest {THREAD_PAGE}, "
            "decrypted), each in its own session as `ChatState.load` does; the time is server "
            "time in the service layer (no Reflex, no browser).",
            f"{WARMUPS} warm-up opens after one cold open on fresh connections, then {runs} "
            "measured; later sidebar pages are fetched with the keyset cursor.",
        ]
    )
    reason = postgres_unavailable_reason()
    if reason is not None:
        result.notes.append(f"PostgreSQL variant skipped: {reason}.")
    with tempfile.TemporaryDirectory(prefix="yw-bench-open-") as tmp:
        configure_app_env(Path(tmp))
        quiet_app_logs()
        variants: list[contextlib.AbstractContextManager[Database]] = [
            sqlite_database(Path(tmp), "open.db")
        ]
        if reason is None:
            variants.append(postgres_database("youworker_bench"))
        for variant in variants:
            with variant as database:
                outcome = asyncio.run(_measure(database, runs))
                if not _report(result, outcome):
                    result.notes.append(_profile(outcome))
    return [result]


def _profile(outcome: Outcome) -> str:
    """cProfile of a few more opens of the same seeded conversation."""

    async def again() -> None:
        from youworker import db as db_module

        db_module.use_engine(db_module.create_engine_for(outcome.database.url))
        try:
            for _ in range(5):
                await open_conversation(outcome.seeded)
        finally:
            await db_module.dispose_engine()

    profile = cProfile.Profile()
    profile.enable()
    asyncio.run(again())
    profile.disable()
    return (
        f"{outcome.database.backend} profile of 5 more opens (cProfile, top by cumulative "
        "time):\n" + "\n".join(cprofile_summary(profile))
    )


def main() -> None:
    bench_main(run, __doc__.splitlines()[0])


if __name__ == "__main__":
    main()
