"""Analytics numbers equal those computed by hand from seeded data (SQLite and PostgreSQL).

The seed spans 2026-02-28 .. 2026-03-06; the range under test is 03-01 .. 03-05, so the first
and last days hold rows just outside it, and 03-03 has no activity at all.
"""

from __future__ import annotations

import hashlib
import random
import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.models import Conversation, Document, Message, ToolCall, User
from youworker.services import accounts, analytics, users_admin
from youworker.services.analytics import Usage
from youworker.services.errors import AuthenticationFailed, Forbidden, ValidationFailed

START, END = date(2026, 3, 1), date(2026, 3, 5)


def at(day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    """A UTC instant in March 2026 (day 0 is 28 February)."""
    if day == 0:
        return datetime(2026, 2, 28, hour, minute, second, micro, tzinfo=UTC)
    return datetime(2026, 3, day, hour, minute, second, micro, tzinfo=UTC)


@dataclass
class Seed:
    carol: User
    messages: dict[str, uuid.UUID]


async def _seed(db: AsyncSession, admin: User, alice: User, bob: User) -> Seed:
    carol = await accounts.register(
        db, email="carol@example.com", password="carol-password-1", display_name="Carol"
    )
    conversations = {
        "c1": (alice, at(1, 10)),
        "c2": (bob, at(1, 23, 30)),
        "c3": (alice, at(2, 9)),
        "c4": (bob, at(0, 23, 59, 59)),  # started the day before the range
        "c5": (alice, at(6)),  # the day after the range
        "c6": (admin, at(4, 8)),
    }
    ids = {name: uuid.uuid4() for name in conversations}
    for name, (owner, created) in conversations.items():
        db.add(
            Conversation(id=ids[name], owner_id=owner.id, created_at=created, updated_at=created)
        )
    await db.flush()
    # name: (conversation, role, created, prompt, completion, latency, ttft)
    rows: dict[str, tuple[str, str, datetime, int | None, int | None, int | None, int | None]] = {
        "before": ("c4", "user", at(0, 23, 59, 59, 999_999), None, None, None, None),
        "a1": ("c1", "user", at(1, 10), None, None, None, None),
        "a2": ("c1", "assistant", at(1, 10, 0, 5), 100, 50, 1000, 200),
        "a3": ("c1", "user", at(1, 11), None, None, None, None),
        "a4": ("c1", "assistant", at(1, 11, 0, 5), 120, 30, 3000, 400),
        "b1": ("c4", "user", at(1, 12), None, None, None, None),
        "b2": ("c4", "assistant", at(1, 12, 0, 2), 10, 5, 2000, None),
        "b3": ("c2", "user", at(1, 23, 30), None, None, None, None),
        "b4": ("c2", "assistant", at(1, 23, 59, 59, 999_999), None, None, None, None),
        "b5": ("c2", "user", at(2), None, None, None, None),  # exactly midnight: day 2
        "b6": ("c2", "assistant", at(2, 0, 0, 3), 50, 50, 500, 100),
        "a5": ("c3", "user", at(2, 9), None, None, None, None),
        "a6": ("c3", "assistant", at(2, 9, 0, 4), 200, 100, 4100, 300),
        "a7": ("c3", "assistant", at(2, 9, 10), 1, 1, 1500, 50),
        "a8": ("c3", "assistant", at(2, 9, 20), None, None, 2600, 250),
        "d1": ("c6", "user", at(4, 8), None, None, None, None),
        "d2": ("c6", "assistant", at(4, 8, 0, 1), 5, 5, 700, 70),
        "a9": ("c1", "assistant", at(5, 12), 1, 2, None, None),  # an answer without a question
        "after1": ("c5", "user", at(6), None, None, None, None),
        "after2": ("c5", "assistant", at(6, 0, 0, 1), 1000, 1000, 99_999, 99_999),
    }
    message_ids = {name: uuid.uuid4() for name in rows}
    for name, (conversation, role, created, prompt, completion, latency, ttft) in rows.items():
        db.add(
            Message(
                id=message_ids[name],
                conversation_id=ids[conversation],
                role=role,
                content_enc="-",
                prompt_tokens=prompt,
                completion_tokens=completion,
                latency_ms=latency,
                ttft_ms=ttft,
                created_at=created,
            )
        )
    await db.flush()
    # (message, tool, ok, duration)
    calls = [
        ("a2", "search_documents", True, 100),
        ("a4", "calculator", True, 10),
        ("b2", "calculator", False, 30),
        ("a6", "calculator", True, 20),
        ("d2", "web_fetch", False, None),
        ("after2", "calculator", True, 5),
    ]
    for message, tool, ok, duration in calls:
        db.add(
            ToolCall(
                message_id=message_ids[message],
                name=tool,
                arguments_enc="-",
                ok=ok,
                duration_ms=duration,
                created_at=rows[message][2],
            )
        )
    documents = [
        (alice, at(1, 9), "ready"),
        (alice, at(1, 9, 30), "failed"),
        (bob, at(2, 14), "ready"),
        (bob, at(2, 15), "queued"),
        (admin, at(5, 23, 59, 59), "failed"),
        (alice, at(0, 12), "ready"),
        (bob, at(6, 0, 0, 1), "failed"),
    ]
    for n, (owner, created, status) in enumerate(documents):
        db.add(
            Document(
                owner_id=owner.id,
                name=f"doc{n}.txt",
                kind="text",
                size_bytes=10,
                content_sha256=hashlib.sha256(str(n).encode()).hexdigest(),
                status=status,
                created_at=created,
                updated_at=created,
            )
        )
    await db.commit()
    return Seed(carol=carol, messages=message_ids)


@pytest.fixture
async def seed(db: AsyncSession, admin: User, alice: User, bob: User) -> Seed:
    return await _seed(db, admin, alice, bob)


async def test_every_daily_series_matches_the_hand_count(
    db: AsyncSession, admin: User, seed: Seed
) -> None:
    board = await analytics.dashboard(db, admin, START, END)
    assert [d.day for d in board.days] == [date(2026, 3, n) for n in range(1, 6)]
    by_day = {d.day.day: d.usage for d in board.days}
    assert by_day[1] == Usage(
        messages=8,
        prompt_tokens=230,
        completion_tokens=85,
        active_users=2,
        conversations=2,
        tool_calls=3,
        tool_calls_failed=1,
        documents=2,
        documents_ready=1,
        documents_failed=1,
        median_latency_ms=2000.0,  # of 1000, 3000, 2000
        median_ttft_ms=300.0,  # of 200, 400 (the missing one is not a zero)
    )
    assert by_day[2] == Usage(
        messages=6,
        prompt_tokens=251,
        completion_tokens=151,
        active_users=2,
        conversations=1,
        tool_calls=1,
        documents=2,
        documents_ready=1,
        median_latency_ms=2050.0,  # of 500, 1500, 2600, 4100: mean of the middle two
        median_ttft_ms=175.0,  # of 50, 100, 250, 300
    )
    assert by_day[3] == Usage(), "a day without activity is present, with zeros"
    assert by_day[4] == Usage(
        messages=2,
        prompt_tokens=5,
        completion_tokens=5,
        active_users=1,
        conversations=1,
        tool_calls=1,
        tool_calls_failed=1,
        median_latency_ms=700.0,
        median_ttft_ms=70.0,
    )
    assert by_day[5] == Usage(
        messages=1, prompt_tokens=1, completion_tokens=2, documents=1, documents_failed=1
    ), "an answer alone does not make its owner active; no latency means no median"
    assert by_day[1].tokens == 315


async def test_totals_are_over_the_range_not_sums_of_days(
    db: AsyncSession, admin: User, seed: Seed
) -> None:
    totals = (await analytics.dashboard(db, admin, START, END)).totals
    assert totals == Usage(
        messages=17,
        prompt_tokens=487,
        completion_tokens=243,
        active_users=3,  # alice and bob were active on two days each: counted once
        conversations=4,
        tool_calls=5,
        tool_calls_failed=2,
        documents=5,
        documents_ready=2,
        documents_failed=2,
        # of 500, 700, 1000, 1500, 2000, 2600, 3000, 4100
        median_latency_ms=1750.0,
        # of 50, 70, 100, 200, 250, 300, 400
        median_ttft_ms=200.0,
    )


async def test_tools_are_ranked_by_calls(db: AsyncSession, admin: User, seed: Seed) -> None:
    tools = (await analytics.dashboard(db, admin, START, END)).tools
    assert [(t.name, t.calls, t.failed, t.avg_duration_ms) for t in tools] == [
        ("calculator", 3, 1, 20.0),
        ("search_documents", 1, 0, 100.0),
        ("web_fetch", 1, 1, None),
    ]


async def test_range_bounds_are_whole_utc_days(db: AsyncSession, admin: User, seed: Seed) -> None:
    before = await analytics.dashboard(db, admin, date(2026, 2, 28), date(2026, 2, 28))
    assert len(before.days) == 1
    assert before.totals == Usage(
        messages=1, active_users=1, conversations=1, documents=1, documents_ready=1
    )
    after = await analytics.dashboard(db, admin, date(2026, 3, 6), date(2026, 3, 6))
    assert after.totals == Usage(
        messages=2,
        prompt_tokens=1000,
        completion_tokens=1000,
        active_users=1,
        conversations=1,
        tool_calls=1,
        documents=1,
        documents_failed=1,
        median_latency_ms=99_999.0,
        median_ttft_ms=99_999.0,
    )
    empty = await analytics.dashboard(db, admin, date(2025, 1, 1), date(2025, 1, 31))
    assert len(empty.days) == 31 and empty.totals == Usage() and empty.tools == []
    assert all(d.usage == Usage() for d in empty.days)


async def test_user_usage_rows_and_order(
    db: AsyncSession, admin: User, alice: User, bob: User, seed: Seed
) -> None:
    page = await analytics.user_usage(db, admin, START, END)
    assert page.total == 4
    assert [
        (r.email, r.messages, r.tokens, r.conversations, r.tool_calls, r.documents, r.last_active)
        for r in page.rows
    ] == [
        ("alice@example.com", 9, 605, 2, 3, 2, at(2, 9)),
        ("bob@example.com", 6, 115, 1, 1, 2, at(2)),
        ("admin@example.com", 2, 10, 1, 1, 1, at(4, 8)),
        ("carol@example.com", 0, 0, 0, 0, 0, None),
    ]
    board = await analytics.dashboard(db, admin, START, END)
    assert sum(r.messages for r in page.rows) == board.totals.messages
    assert sum(r.tokens for r in page.rows) == board.totals.tokens
    assert page.rows[0].user_id == alice.id and page.rows[1].user_id == bob.id


async def test_user_usage_search_and_pages(db: AsyncSession, admin: User, seed: Seed) -> None:
    second = await analytics.user_usage(db, admin, START, END, offset=2, limit=2)
    assert [r.email for r in second.rows] == ["admin@example.com", "carol@example.com"]
    assert second.total == 4
    found = await analytics.user_usage(db, admin, START, END, query="  ALI ")
    assert [r.email for r in found.rows] == ["alice@example.com"] and found.total == 1
    assert (await analytics.user_usage(db, admin, START, END, query="100%")).total == 0
    one_day = await analytics.user_usage(db, admin, date(2026, 3, 4), date(2026, 3, 4), limit=1)
    assert [(r.email, r.messages) for r in one_day.rows] == [("admin@example.com", 2)]


async def test_medians_match_python_on_many_values_with_ties(db: AsyncSession, admin: User) -> None:
    """Odd and even counts, repeated values and missing timings, over several days."""
    rng = random.Random(7)
    conversation = Conversation(owner_id=admin.id, created_at=at(1), updated_at=at(1))
    db.add(conversation)
    await db.flush()
    latencies: dict[int, list[int]] = {day: [] for day in range(1, 8)}
    ttfts: dict[int, list[int]] = {day: [] for day in range(1, 8)}
    for n in range(301):
        day = 1 + n % 7
        latency = rng.choice([None, rng.randint(1, 40), rng.randint(1, 5000)])
        ttft = rng.choice([None, rng.randint(1, 9)])
        if latency is not None:
            latencies[day].append(latency)
        if ttft is not None:
            ttfts[day].append(ttft)
        db.add(
            Message(
                conversation_id=conversation.id,
                role="assistant",
                content_enc="-",
                latency_ms=latency,
                ttft_ms=ttft,
                created_at=at(day, n % 24, n % 60),
            )
        )
    await db.commit()
    board = await analytics.dashboard(db, admin, date(2026, 3, 1), date(2026, 3, 7))
    for d in board.days:
        assert d.usage.median_latency_ms == statistics.median(latencies[d.day.day])
        assert d.usage.median_ttft_ms == statistics.median(ttfts[d.day.day])
    assert board.totals.median_latency_ms == statistics.median(
        [v for day in latencies.values() for v in day]
    )
    assert board.totals.median_ttft_ms == statistics.median(
        [v for day in ttfts.values() for v in day]
    )


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2026, 3, 5), date(2026, 3, 4), "end"),
        (date(2025, 1, 1), date(2026, 1, 2), "start"),  # 367 days
        (datetime(2026, 3, 1, tzinfo=UTC), date(2026, 3, 2), "start"),
        (date(2026, 3, 1), "2026-03-02", "end"),
        (date(9999, 12, 31), date(9999, 12, 31), "end"),
    ],
)
async def test_invalid_ranges_are_refused(
    db: AsyncSession, admin: User, start: object, end: object, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await analytics.dashboard(db, admin, start, end)  # type: ignore[arg-type]
    assert set(refused.value.fields) == {field}
    with pytest.raises(ValidationFailed):
        await analytics.user_usage(db, admin, start, end)  # type: ignore[arg-type]


async def test_a_full_year_is_accepted(db: AsyncSession, admin: User) -> None:
    board = await analytics.dashboard(db, admin, date(2024, 1, 1), date(2024, 12, 31))
    assert len(board.days) == analytics.MAX_RANGE_DAYS


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"offset": -1}, "offset"),
        ({"limit": 0}, "limit"),
        ({"limit": analytics.PAGE_SIZE_MAX + 1}, "limit"),
        ({"query": "x" * 255}, "query"),
    ],
)
async def test_invalid_pages_are_refused(
    db: AsyncSession, admin: User, options: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await analytics.user_usage(db, admin, START, END, **options)  # type: ignore[arg-type]
    assert set(refused.value.fields) == {field}


async def test_non_admins_are_refused(db: AsyncSession, alice: User) -> None:
    with pytest.raises(Forbidden):
        await analytics.dashboard(db, alice, START, END)
    with pytest.raises(Forbidden):
        await analytics.user_usage(db, alice, START, END)
    with pytest.raises(AuthenticationFailed):
        await analytics.dashboard(db, None, START, END)


async def test_deactivated_admin_is_refused(db: AsyncSession, admin: User, alice: User) -> None:
    await users_admin.set_role(db, admin, alice.id, "admin")
    await users_admin.set_active(db, admin, alice.id, False)
    await db.refresh(alice)
    assert alice.is_admin and not alice.is_active
    with pytest.raises(AuthenticationFailed):
        await analytics.dashboard(db, alice, START, END)
    with pytest.raises(AuthenticationFailed):
        await analytics.user_usage(db, alice, START, END)
