"""Admin analytics pages: the dashboard and usage per user. The service refuses non-admins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import analytics
from youworker.services.errors import ServiceError, ValidationFailed
from youworker.state.guards import AdminPage, site_admin_view
from youworker.state.session import SessionState
from youworker.state.times import iso_or_empty

DEFAULT_DAYS = 30
PRESETS = (7, 30, 90)
USERS_PAGE = 25


def today() -> date:
    return datetime.now(UTC).date()


def last_days(days: int) -> tuple[str, str]:
    """(start, end) ISO dates of the `days` UTC days ending today."""
    end = today()
    return (end - timedelta(days=days - 1)).isoformat(), end.isoformat()


def parse_range(start: str, end: str) -> tuple[date, date]:
    """The two dates of the inputs; the service checks the range itself."""
    try:
        first = date.fromisoformat(start.strip())
    except ValueError:
        raise ValidationFailed({"start": "Enter the start as a date (YYYY-MM-DD)."}) from None
    try:
        last = date.fromisoformat(end.strip())
    except ValueError:
        raise ValidationFailed({"end": "Enter the end as a date (YYYY-MM-DD)."}) from None
    return first, last


def count(value: int) -> str:
    return f"{value:,}"


def duration(ms: float | None) -> str:
    if ms is None:
        return "—"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def summary_cards(totals: analytics.Usage) -> list[dict[str, str]]:
    return [
        {"key": "messages", "label": "Messages", "value": count(totals.messages)},
        {"key": "tokens", "label": "Tokens", "value": count(totals.tokens)},
        {"key": "active-users", "label": "Active users", "value": count(totals.active_users)},
        {"key": "conversations", "label": "Conversations", "value": count(totals.conversations)},
        {
            "key": "tool-calls",
            "label": "Tool calls (failed)",
            "value": f"{count(totals.tool_calls)} ({count(totals.tool_calls_failed)})",
        },
        {
            "key": "documents",
            "label": "Documents ready / failed",
            "value": f"{count(totals.documents_ready)} / {count(totals.documents_failed)}",
        },
        {
            "key": "latency",
            "label": "Median latency",
            "value": duration(totals.median_latency_ms),
        },
        {
            "key": "ttft",
            "label": "Median time to first token",
            "value": duration(totals.median_ttft_ms),
        },
    ]


def series_rows(board: analytics.Dashboard) -> list[dict[str, Any]]:
    """One chart point per day; medians stay null on days without answers (a gap, not 0)."""
    return [
        {
            "day": d.day.isoformat(),
            "messages": d.usage.messages,
            "prompt_tokens": d.usage.prompt_tokens,
            "completion_tokens": d.usage.completion_tokens,
            "active_users": d.usage.active_users,
            "conversations": d.usage.conversations,
            "tool_calls": d.usage.tool_calls,
            "documents_ready": d.usage.documents_ready,
            "documents_failed": d.usage.documents_failed,
            "median_latency_ms": d.usage.median_latency_ms,
            "median_ttft_ms": d.usage.median_ttft_ms,
        }
        for d in board.days
    ]


class AnalyticsRange(AdminPage, mixin=True):
    """The date range both analytics pages share (inputs, presets, the URL's ?start=&end=)."""

    start: str = ""
    end: str = ""
    range_error: str = ""

    async def _refresh(self, actor: User) -> None:
        raise NotImplementedError

    def _range_changed(self) -> None:
        """A new range was picked (the usage page goes back to its first page)."""

    @site_admin_view
    async def _guarded_refresh(self, user: User) -> EventSpec | None:
        try:
            await self._refresh(user)
        except ValidationFailed as exc:
            self.range_error = " ".join(exc.fields.values())
            self._forget_page()
            return None
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        self.range_error = ""
        return None

    def _range(self) -> tuple[date, date]:
        return parse_range(self.start, self.end)

    @rx.var
    def range_query(self) -> str:
        """?start=…&end=… to carry the range to the other analytics page."""
        return "?" + urlencode({"start": self.start, "end": self.end})

    @rx.event
    async def load(self) -> EventSpec | None:
        params = self.router.url.query_parameters
        default_start, default_end = last_days(DEFAULT_DAYS)
        self.start = str(params.get("start", "") or default_start)[:10]
        self.end = str(params.get("end", "") or default_end)[:10]
        return await self._guarded_refresh()

    @rx.event
    async def pick_preset(self, days: int) -> EventSpec | None:
        self.start, self.end = last_days(max(1, min(int(days), analytics.MAX_RANGE_DAYS)))
        self._range_changed()
        return await self._guarded_refresh()

    @rx.event
    async def change_start(self, value: str) -> EventSpec | None:
        self.start = value[:10]
        self._range_changed()
        return await self._guarded_refresh()

    @rx.event
    async def change_end(self, value: str) -> EventSpec | None:
        self.end = value[:10]
        self._range_changed()
        return await self._guarded_refresh()


class AdminAnalyticsState(AnalyticsRange, SessionState):
    series: list[dict[str, Any]] = []
    tools: list[dict[str, Any]] = []
    cards: list[dict[str, str]] = []

    def _forget_page(self) -> None:
        self.series, self.tools, self.cards = [], [], []

    async def _refresh(self, actor: User) -> None:
        first, last = self._range()
        async with session_scope() as db:
            board = await analytics.dashboard(db, actor, first, last)
        self.series = series_rows(board)
        self.cards = summary_cards(board.totals)
        self.tools = [
            {"name": t.name, "ok": t.calls - t.failed, "failed": t.failed} for t in board.tools
        ]


class AdminUsageState(AnalyticsRange, SessionState):
    rows: list[dict[str, str]] = []
    total_users: int = 0
    page: int = 0
    query: str = ""

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total_users // USERS_PAGE))

    def _forget_page(self) -> None:
        self.rows, self.total_users = [], 0

    def _range_changed(self) -> None:
        self.page = 0

    async def _refresh(self, actor: User) -> None:
        first, last = self._range()
        async with session_scope() as db:
            result = await analytics.user_usage(
                db,
                actor,
                first,
                last,
                offset=self.page * USERS_PAGE,
                limit=USERS_PAGE,
                query=self.query,
            )
        self.total_users = result.total
        self.rows = [
            {
                "email": r.email,
                "name": r.display_name,
                "active": "yes" if r.is_active else "",
                "messages": count(r.messages),
                "tokens": count(r.tokens),
                "conversations": count(r.conversations),
                "tool_calls": count(r.tool_calls),
                "documents": count(r.documents),
                "last_active": iso_or_empty(r.last_active),
            }
            for r in result.rows
        ]

    @rx.event
    async def search(self, query: str) -> EventSpec | None:
        self.query = query[: analytics.QUERY_MAX]
        self.page = 0
        return await self._guarded_refresh()

    @rx.event
    async def go_to_page(self, page: int) -> EventSpec | None:
        self.page = max(0, min(int(page), self.page_count - 1))
        return await self._guarded_refresh()
