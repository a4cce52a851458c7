"""Site-admin analytics: daily activity series and per-user usage.

Every number is aggregated by the database, per UTC calendar day (see analytics.queries);
Python only lays the aggregated rows out on the calendar. A range includes both of its days.

- messages, tokens: all messages (questions and answers) created that day;
- active users: users who sent a message (role "user") that day;
- conversations: conversations started that day;
- tool calls: tool calls made that day, and per tool over the range;
- documents: documents uploaded that day, by their current outcome (ready or failed);
- median latency / time to first token: over the answers created that day.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from youworker.db import contains
from youworker.models import User
from youworker.services.analytics import queries as q
from youworker.services.authz import require_site_admin
from youworker.services.errors import ValidationFailed

MAX_RANGE_DAYS = 366
TOOL_LIMIT = 20
PAGE_SIZE_MAX = 100
QUERY_MAX = 254


@dataclass(frozen=True)
class Usage:
    """Activity over one day or over the whole range."""

    messages: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    active_users: int = 0
    conversations: int = 0
    tool_calls: int = 0
    tool_calls_failed: int = 0
    documents: int = 0
    documents_ready: int = 0
    documents_failed: int = 0
    median_latency_ms: float | None = None
    median_ttft_ms: float | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class DayUsage:
    day: date
    usage: Usage


@dataclass(frozen=True)
class ToolUsage:
    name: str
    calls: int
    failed: int
    avg_duration_ms: float | None


@dataclass(frozen=True)
class Dashboard:
    start: date
    end: date
    days: list[DayUsage]  # every day of the range, oldest first, zeros where nothing happened
    totals: Usage
    tools: list[ToolUsage]  # the TOOL_LIMIT most called over the range, most called first


@dataclass(frozen=True)
class UserUsage:
    user_id: uuid.UUID
    email: str
    display_name: str
    is_active: bool
    messages: int  # questions and answers in the user's conversations
    tokens: int
    conversations: int
    tool_calls: int
    documents: int
    last_active: datetime | None  # the user's last message within the range


@dataclass(frozen=True)
class UsagePage:
    rows: list[UserUsage]
    total: int


# One row per day plus one with day NULL for the whole range.
_Buckets = dict[date | None, dict[str, Any]]


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[first instant, instant after the last day) in UTC, after validating the range."""
    if isinstance(start, datetime) or not isinstance(start, date):
        raise ValidationFailed({"start": "Give the start as a calendar date."})
    if isinstance(end, datetime) or not isinstance(end, date):
        raise ValidationFailed({"end": "Give the end as a calendar date."})
    if start > end:
        raise ValidationFailed({"end": "The end date must not be before the start date."})
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed({"start": f"Pick a range of at most {MAX_RANGE_DAYS} days."})
    if end >= date.max:
        raise ValidationFailed({"end": "The end date is too far in the future."})
    return (
        datetime.combine(start, time.min, UTC),
        datetime.combine(end + timedelta(days=1), time.min, UTC),
    )


async def _collect(session: AsyncSession, statement: Any, into: _Buckets) -> None:
    for row in (await session.execute(statement)).mappings():
        into[row["day"]].update({k: v for k, v in row.items() if k != "day"})


def _usage(values: dict[str, Any]) -> Usage:
    known: dict[str, Any] = {
        name: float(value) if name in q.MEDIANS else int(value)
        for name, value in values.items()
        if value is not None
    }
    return Usage(**known)


async def dashboard(session: AsyncSession, actor: User | None, start: date, end: date) -> Dashboard:
    """Daily series over [start, end] (UTC days) with range totals and the busiest tools."""
    require_site_admin(actor)
    lower, upper = _bounds(start, end)
    buckets: _Buckets = defaultdict(dict)
    postgres = session.get_bind().dialect.name == "postgresql"
    for statement in q.daily(lower, upper, postgres):
        await _collect(session, statement, buckets)
    tools = await session.execute(q.tools_by_name(lower, upper, TOOL_LIMIT))
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return Dashboard(
        start=start,
        end=end,
        days=[DayUsage(day, _usage(buckets.get(day, {}))) for day in days],
        totals=_usage(buckets.get(None, {})),
        tools=[
            ToolUsage(
                name=row.name,
                calls=int(row.calls),
                failed=int(row.failed),
                avg_duration_ms=None if row.avg_duration_ms is None else float(row.avg_duration_ms),
            )
            for row in tools
        ],
    )


def _page(offset: int, limit: int) -> tuple[int, int]:
    if not isinstance(offset, int) or offset < 0:
        raise ValidationFailed({"offset": "The offset must be zero or more."})
    if not isinstance(limit, int) or not 1 <= limit <= PAGE_SIZE_MAX:
        raise ValidationFailed({"limit": f"The page size must be between 1 and {PAGE_SIZE_MAX}."})
    return offset, limit


def _search(query: str) -> ColumnElement[bool] | None:
    needle = query.strip()
    if len(needle) > QUERY_MAX:
        raise ValidationFailed({"query": f"Search for at most {QUERY_MAX} characters."})
    if not needle:
        return None
    return or_(contains(col(User.email), needle), contains(col(User.display_name), needle))


async def user_usage(
    session: AsyncSession,
    actor: User | None,
    start: date,
    end: date,
    *,
    offset: int = 0,
    limit: int = 25,
    query: str = "",
) -> UsagePage:
    """Every user (matching `query`) with their activity over the range, busiest first."""
    require_site_admin(actor)
    lower, upper = _bounds(start, end)
    offset, limit = _page(offset, limit)
    condition = _search(query)
    listing = q.usage_listing(lower, upper).offset(offset).limit(limit)
    counting = select(func.count()).select_from(User)
    if condition is not None:
        listing = listing.where(condition)
        counting = counting.where(condition)
    rows = (await session.execute(listing)).all()
    total = int(await session.scalar(counting) or 0)
    return UsagePage(
        rows=[
            UserUsage(
                user_id=row.id,
                email=row.email,
                display_name=row.display_name,
                is_active=row.is_active,
                messages=int(row.messages),
                tokens=int(row.tokens),
                conversations=int(row.conversations),
                tool_calls=int(row.tool_calls),
                documents=int(row.documents),
                last_active=row.last_active,
            )
            for row in rows
        ],
        total=total,
    )
