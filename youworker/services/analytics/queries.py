"""The SQL behind `services.analytics`: every statement aggregates in the database.

`daily()` lists the dashboard's per-day statements. Each returns rows with a `day` column (a
UTC date) and one more row with day NULL for the whole range; a range is the instants
[lower, upper), both UTC midnights.

PostgreSQL walks the days with LATERAL: each day is one range of an index on `created_at`
(for messages the covering `ix_messages_created`, so no table row is read), and no per-row day
has to be computed, hashed or sorted. A day's medians come from its sorted timings; the range's
medians from those same sorted arrays (see `_median_of_sorted`). SQLite, the embedded default
for small installations, groups by `date(created_at)` and ranks with window functions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Integer,
    Interval,
    Select,
    and_,
    case,
    cast,
    column,
    distinct,
    false,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, array_agg
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from youworker.models import Conversation, Document, DocumentStatus, Message, ToolCall, User
from youworker.models.base import UTCDateTime

MEDIANS = ("median_latency_ms", "median_ttft_ms")
ONE_DAY_SQL = literal(timedelta(days=1), Interval)


class utc_day(FunctionElement[Any]):
    """The UTC calendar day of a timestamp column."""

    type = Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day)
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores UTC timestamps as "YYYY-MM-DD HH:MM:SS.ffffff".
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day, "postgresql")
def _utc_day_postgres(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # timestamptz -> UTC wall time -> date, whatever the session's time zone.
    return f"CAST(timezone('UTC', {compiler.process(element.clauses, **kw)}) AS DATE)"


def in_range(column_: Any, lower: datetime, upper: datetime) -> ColumnElement[bool]:
    return and_(col(column_) >= lower, col(column_) < upper)


def _with_total(per_day: Select[*tuple[Any, ...]]) -> Any:
    """The per-day rows plus a row with day NULL holding each column's sum (additive only)."""
    daily = per_day.cte()
    sums = [
        cast(func.coalesce(func.sum(c), 0), BigInteger).label(c.name)
        for c in daily.c
        if c.name != "day"
    ]
    return union_all(select(daily), select(null().label("day"), *sums))


def _message_columns() -> list[Any]:
    return [
        func.count().label("messages"),
        func.coalesce(func.sum(col(Message.prompt_tokens)), 0).label("prompt_tokens"),
        func.coalesce(func.sum(col(Message.completion_tokens)), 0).label("completion_tokens"),
    ]


def _sorted_timings(column_: Any) -> Any:
    """An answer timing's values, sorted (NULL when none; answers without it are skipped)."""
    value = col(column_)
    return array_agg(aggregate_order_by(value, value)).filter(
        and_(col(Message.role) == "assistant", value.is_not(None))
    )


def _length(values: Any) -> Any:
    return func.cardinality(values, type_=Integer)


def _middle(values: Any) -> Any:
    """The median of a sorted array: its middle element, or the mean of the two middle ones."""
    n = _length(values)
    return (values[(n + 1) // 2] + values[n // 2 + 1]) / 2.0


def _median_of_sorted(rows: Any, values: Any) -> Any:
    """The median over every row's sorted array, without sorting them all together again.

    The two middle ranks of the n values are (n + 1) / 2 and (n + 2) / 2; the value at rank k
    is the smallest x with at least k values <= x. A binary search on x finds it in ~log2(max
    - min) steps; each step counts the values <= x with `width_bucket`, itself a binary search
    in each array. Timings are whole milliseconds, so the search on integers is exact.
    """
    ends = select(
        func.sum(_length(values)).label("n"),
        func.min(values[1]).label("lo"),
        func.max(values[_length(values)]).label("hi"),
    ).subquery("ends")
    # h = 0, 1 gives both middle ranks: (n + 1) / 2 and (n + 2) / 2 = n / 2 + 1.
    half = (
        func.generate_series(0, 1).table_valued(column("h", Integer), name="half").render_derived()
    )
    search = (
        select(((ends.c.n + 1 + half.c.h) // 2).label("k"), ends.c.lo, ends.c.hi)
        .select_from(ends)
        .join(half, true())
        .cte(f"search_{values.name}", recursive=True)
    )
    mid = (search.c.lo + search.c.hi) // 2
    below = (  # how many values are <= mid, counted once per step
        select(func.sum(func.width_bucket(mid, values)).label("n"))
        .select_from(rows)
        .lateral("below")
    )
    enough = below.c.n >= search.c.k
    search = search.union_all(
        select(
            search.c.k,
            case((enough, search.c.lo), else_=mid + 1),
            case((enough, mid), else_=search.c.hi),
        )
        .select_from(search)
        .join(below, true())
        .where(search.c.lo < search.c.hi)
    )
    return select(func.avg(search.c.lo)).where(search.c.lo == search.c.hi).scalar_subquery()


def _days(lower: datetime, upper: datetime) -> tuple[Any, ColumnElement[datetime]]:
    """The range's days as a FROM clause, and each day's first instant.

    An integer series with inline bounds: PostgreSQL then knows how many days there are (it
    guesses 1,000 rows for a series of timestamps), which keeps the plans' costs honest.
    """
    last = literal_column(str(int((upper - lower).days) - 1), Integer)
    days = (
        func.generate_series(literal_column("0", Integer), last)
        .table_valued(column("n", Integer), name="days")
        .render_derived()
    )
    return days, literal(lower, UTCDateTime) + days.c.n * ONE_DAY_SQL


def messages_postgres(lower: datetime, upper: datetime) -> Any:
    """Messages, tokens and answer medians per day and over the range, in one statement.

    LATERAL walks the days: each is one range of the covering index `ix_messages_created`,
    counted, and its answers' timings sorted into arrays (a day's median is their middle). The
    range's medians come from those arrays too, so the index is read once and nothing is sorted
    twice.
    """
    days, at = _days(lower, upper)
    per_day = (
        select(
            *_message_columns(),
            _sorted_timings(Message.latency_ms).label("latencies"),
            _sorted_timings(Message.ttft_ms).label("ttfts"),
        )
        .where(col(Message.created_at) >= at, col(Message.created_at) < at + ONE_DAY_SQL)
        .lateral("per_day")
    )
    rows = select(at.label("at"), *per_day.c).select_from(days).join(per_day, true()).cte("rows")
    daily = select(
        utc_day(rows.c.at).label("day"),
        rows.c.messages,
        rows.c.prompt_tokens,
        rows.c.completion_tokens,
        _middle(rows.c.latencies).label(MEDIANS[0]),
        _middle(rows.c.ttfts).label(MEDIANS[1]),
    )
    total = select(
        null().label("day"),
        func.sum(rows.c.messages),
        func.sum(rows.c.prompt_tokens),
        func.sum(rows.c.completion_tokens),
        _median_of_sorted(rows, rows.c.latencies),
        _median_of_sorted(rows, rows.c.ttfts),
    )
    return union_all(daily, total)


def active_users_postgres(lower: datetime, upper: datetime) -> Any:
    """Distinct senders per day and over the range (not a sum: one user is active many days).

    Each day's conversations with a question come from that day's index range; only those
    (day, conversation) pairs are joined to their owners.
    """
    days, at = _days(lower, upper)
    talked = (
        select(col(Message.conversation_id))
        .where(
            col(Message.role) == "user",
            col(Message.created_at) >= at,
            col(Message.created_at) < at + ONE_DAY_SQL,
        )
        .distinct()
        .lateral("talked")
    )
    owners = (
        select(at.label("at"), col(Conversation.owner_id))
        .select_from(days)
        .join(talked, true())
        .join(Conversation, col(Conversation.id) == talked.c.conversation_id)
        .distinct()
        .subquery()
    )
    return select(
        utc_day(owners.c.at).label("day"),
        func.count(distinct(owners.c.owner_id)).label("active_users"),
    ).group_by(func.rollup(owners.c.at))


def median_sqlite(column_: Any, label: str, lower: datetime, upper: datetime) -> Any:
    """Median of an answer column per day and over the range, with window functions.

    Rows are numbered within each bucket; the median is the middle row, or the mean of the two
    middle rows when the count is even (2·rn within [n, n + 2] picks exactly those).
    """
    value = col(column_)
    where = and_(
        col(Message.role) == "assistant",
        in_range(Message.created_at, lower, upper),
        value.is_not(None),
    )
    day = utc_day(col(Message.created_at))
    values = union_all(
        select(day.label("day"), value.label("v")).where(where),
        select(null().label("day"), value.label("v")).where(where),
    ).subquery()
    ranked = select(
        values.c.day,
        values.c.v,
        func.row_number().over(partition_by=values.c.day, order_by=values.c.v).label("rn"),
        func.count().over(partition_by=values.c.day).label("n"),
    ).subquery()
    return (
        select(ranked.c.day, func.avg(ranked.c.v).label(label))
        .where((ranked.c.rn * 2).between(ranked.c.n, ranked.c.n + 2))
        .group_by(ranked.c.day)
    )


def active_users_sqlite(lower: datetime, upper: datetime) -> Any:
    """Distinct senders per day and over the range (not a sum: one user is active many days)."""
    day = utc_day(col(Message.created_at))
    owners = (
        select(day.label("day"), col(Conversation.owner_id))
        .join_from(Message, Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(col(Message.role) == "user", in_range(Message.created_at, lower, upper))
        .group_by(day, col(Conversation.owner_id))
        .cte()
    )
    return union_all(
        select(owners.c.day, func.count().label("active_users")).group_by(owners.c.day),
        select(null().label("day"), func.count(distinct(owners.c.owner_id))),
    )


def daily_sums(
    created_at: Any, columns: list[Any], lower: datetime, upper: datetime, postgres: bool
) -> Any:
    """Additive counts per day of a timestamp column, and the range's sums (day NULL).

    PostgreSQL walks the days with LATERAL, one index range each (no per-row day to compute);
    SQLite groups the range's rows by their day.
    """
    if postgres:
        days, at = _days(lower, upper)
        per_day = (
            select(*columns)
            .where(col(created_at) >= at, col(created_at) < at + ONE_DAY_SQL)
            .lateral("per_day")
        )
        return _with_total(
            select(utc_day(at).label("day"), *per_day.c).select_from(days).join(per_day, true())
        )
    day = utc_day(col(created_at))
    return _with_total(
        select(day.label("day"), *columns).where(in_range(created_at, lower, upper)).group_by(day)
    )


def daily(lower: datetime, upper: datetime, postgres: bool) -> list[Any]:
    """Every per-day statement of the dashboard (each with its range row, day NULL)."""
    failed_calls = col(ToolCall.ok) == false()
    status = col(Document.status)
    statements = [
        daily_sums(
            Conversation.created_at,
            [func.count().label("conversations")],
            lower,
            upper,
            postgres,
        ),
        daily_sums(
            ToolCall.created_at,
            [
                func.count().label("tool_calls"),
                func.count().filter(failed_calls).label("tool_calls_failed"),
            ],
            lower,
            upper,
            postgres,
        ),
        daily_sums(
            Document.created_at,
            [
                func.count().label("documents"),
                func.count().filter(status == DocumentStatus.READY).label("documents_ready"),
                func.count().filter(status == DocumentStatus.FAILED).label("documents_failed"),
            ],
            lower,
            upper,
            postgres,
        ),
    ]
    if postgres:
        return [
            messages_postgres(lower, upper),
            active_users_postgres(lower, upper),
            *statements,
        ]
    return [
        daily_sums(Message.created_at, _message_columns(), lower, upper, postgres),
        active_users_sqlite(lower, upper),
        median_sqlite(Message.latency_ms, MEDIANS[0], lower, upper),
        median_sqlite(Message.ttft_ms, MEDIANS[1], lower, upper),
        *statements,
    ]


def tools_by_name(lower: datetime, upper: datetime, limit: int) -> Any:
    return (
        select(
            col(ToolCall.name),
            func.count().label("calls"),
            func.count().filter(col(ToolCall.ok) == false()).label("failed"),
            func.avg(col(ToolCall.duration_ms)).label("avg_duration_ms"),
        )
        .where(in_range(ToolCall.created_at, lower, upper))
        .group_by(col(ToolCall.name))
        .order_by(func.count().desc(), col(ToolCall.name))
        .limit(limit)
    )


def usage_listing(lower: datetime, upper: datetime) -> Select[*tuple[Any, ...]]:
    """Every user with their activity over the range, busiest first (no paging, no filter)."""
    tokens = func.coalesce(col(Message.prompt_tokens), 0) + func.coalesce(
        col(Message.completion_tokens), 0
    )
    # Per conversation first, then per owner: the join sees conversations, not messages.
    per_conversation = (
        select(
            col(Message.conversation_id),
            func.count().label("messages"),
            func.sum(tokens).label("tokens"),
            func.max(col(Message.created_at))
            .filter(col(Message.role) == "user")
            .label("last_active"),
        )
        .where(in_range(Message.created_at, lower, upper))
        .group_by(col(Message.conversation_id))
        .subquery()
    )
    messages = (
        select(
            col(Conversation.owner_id).label("user_id"),
            func.sum(per_conversation.c.messages).label("messages"),
            func.sum(per_conversation.c.tokens).label("tokens"),
            func.max(per_conversation.c.last_active).label("last_active"),
        )
        .join_from(
            per_conversation,
            Conversation,
            col(Conversation.id) == per_conversation.c.conversation_id,
        )
        .group_by(col(Conversation.owner_id))
        .subquery()
    )
    started = (
        select(col(Conversation.owner_id).label("user_id"), func.count().label("n"))
        .where(in_range(Conversation.created_at, lower, upper))
        .group_by(col(Conversation.owner_id))
        .subquery()
    )
    calls = (
        select(col(Conversation.owner_id).label("user_id"), func.count().label("n"))
        .select_from(ToolCall)
        .join(Message, col(Message.id) == col(ToolCall.message_id))
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(in_range(ToolCall.created_at, lower, upper))
        .group_by(col(Conversation.owner_id))
        .subquery()
    )
    uploaded = (
        select(col(Document.owner_id).label("user_id"), func.count().label("n"))
        .where(in_range(Document.created_at, lower, upper))
        .group_by(col(Document.owner_id))
        .subquery()
    )
    message_count = func.coalesce(messages.c.messages, 0)
    return (
        select(
            col(User.id),
            col(User.email),
            col(User.display_name),
            col(User.is_active),
            message_count.label("messages"),
            func.coalesce(messages.c.tokens, 0).label("tokens"),
            func.coalesce(started.c.n, 0).label("conversations"),
            func.coalesce(calls.c.n, 0).label("tool_calls"),
            func.coalesce(uploaded.c.n, 0).label("documents"),
            messages.c.last_active,
        )
        .outerjoin(messages, messages.c.user_id == col(User.id))
        .outerjoin(started, started.c.user_id == col(User.id))
        .outerjoin(calls, calls.c.user_id == col(User.id))
        .outerjoin(uploaded, uploaded.c.user_id == col(User.id))
        .order_by(message_count.desc(), col(User.email))
    )
