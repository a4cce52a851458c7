"""Reading the audit trail: filtered keyset pages newest first, and a streamed CSV export.

Site administrators read everything; a group administrator reads only the entries of a group
they administer (`AuditFilter.group_id`), without the members' IP addresses (`AuditEntry`).
Pages use keyset paging on (created_at, id), which the `ix_audit_events_created_at_id` index
serves in order, so a page costs the same at any depth.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Uuid, bindparam, func, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from youworker.db import contains
from youworker.models import AuditEvent, GroupMembership, GroupRole, User
from youworker.models.base import UTCDateTime
from youworker.services import audit
from youworker.services.audit_actions import KNOWN_ACTIONS as KNOWN_ACTIONS
from youworker.services.authz import acts_as_site_admin, require_active
from youworker.services.errors import Forbidden, ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import SQLCoreOperations

PAGE_SIZE_MAX = 200
EXPORT_BATCH = 1000
# Counting every match of a big table is slow; past this the page says "10000+".
COUNT_CAP = 10_000


ACTION_PATTERN = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]*)*$")
RESOURCE_TYPE_PATTERN = re.compile(r"^[a-z0-9_]{1,32}$")
CSV_COLUMNS = (
    "time",
    "actor_email",
    "actor_id",
    "action",
    "resource_type",
    "resource_id",
    "group_id",
    "ip",
    "details",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class AuditFilter:
    """What to show. Empty strings and None mean "any"; `end` is inclusive."""

    actor: str = ""  # email substring, or an exact user id
    action: str = ""  # exact ("auth.sign_in") or a prefix ending in "." ("auth.")
    resource_type: str = ""
    resource_id: str = ""
    group_id: uuid.UUID | None = None
    start: date | None = None
    end: date | None = None

    @classmethod
    def from_params(
        cls,
        *,
        actor: str = "",
        action: str = "",
        resource_type: str = "",
        resource_id: str = "",
        group_id: str = "",
        start: str = "",
        end: str = "",
    ) -> AuditFilter:
        """Build from text inputs (query string, form fields); ValidationFailed names the field."""
        problems: dict[str, str] = {}
        parsed_group: uuid.UUID | None = None
        if group_id.strip():
            try:
                parsed_group = uuid.UUID(group_id.strip())
            except ValueError:
                problems["group_id"] = "Group id is not valid."
        dates: dict[str, date | None] = {}
        for name, raw in (("start", start), ("end", end)):
            dates[name] = None
            if raw.strip():
                try:
                    dates[name] = date.fromisoformat(raw.strip())
                except ValueError:
                    problems[name] = "Use a date like 2025-01-31."
        if problems:
            raise ValidationFailed(problems)
        return validated(
            cls(
                actor=actor,
                action=action,
                resource_type=resource_type,
                resource_id=resource_id,
                group_id=parsed_group,
                start=dates["start"],
                end=dates["end"],
            )
        )


@dataclass(frozen=True)
class AuditEntry:
    """An entry as its reader may see it: the IP address for site administrators only."""

    id: uuid.UUID
    created_at: datetime
    actor_id: uuid.UUID | None
    actor_email: str | None
    action: str
    resource_type: str | None
    resource_id: str | None
    group_id: uuid.UUID | None
    ip: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, event: AuditEvent, reader: User) -> AuditEntry:
        return cls(
            id=event.id,
            created_at=event.created_at,
            actor_id=event.actor_id,
            actor_email=event.actor_email,
            action=event.action,
            resource_type=event.resource_type,
            resource_id=event.resource_id,
            group_id=event.group_id,
            ip=event.ip if reader.is_admin else None,
            details=dict(event.details or {}),
        )


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEntry]
    # Pass as `cursor` for the next (older) page; None on the last page.
    next_cursor: str | None
    # How many entries match, at most COUNT_CAP; `total_capped` means "at least that many".
    total: int
    total_capped: bool


def validated(filters: AuditFilter) -> AuditFilter:
    """The filter with whitespace trimmed, or ValidationFailed naming each bad field."""
    actor = filters.actor.strip()
    action = filters.action.strip().lower()
    if action.endswith("*"):
        action = action[:-1]
    resource_type = filters.resource_type.strip().lower()
    resource_id = filters.resource_id.strip()
    problems: dict[str, str] = {}
    if len(actor) > 254:
        problems["actor"] = "Actor must be at most 254 characters."
    if action and (len(action) > 64 or not ACTION_PATTERN.match(action)):
        problems["action"] = "Action must look like auth.sign_in, or auth. for every auth action."
    if resource_type and not RESOURCE_TYPE_PATTERN.match(resource_type):
        problems["resource_type"] = "Resource type must be 1-32 lowercase letters, digits or '_'."
    if len(resource_id) > 64:
        problems["resource_id"] = "Resource id must be at most 64 characters."
    if filters.start and filters.end and filters.start > filters.end:
        problems["end"] = "The end date is before the start date."
    if filters.end == date.max:  # the range ends at the next midnight, past what dates can hold
        problems["end"] = "Use an end date before 9999-12-31."
    if problems:
        raise ValidationFailed(problems)
    return AuditFilter(
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        group_id=filters.group_id,
        start=filters.start,
        end=filters.end,
    )


def known_actions() -> list[str]:
    """Every action the application records, sorted."""
    return sorted(KNOWN_ACTIONS)


def action_choices() -> list[str]:
    """For a filter select: each prefix ("auth.") followed by its actions."""
    choices: list[str] = []
    for action in known_actions():
        prefix = action.split(".", 1)[0] + "."
        if prefix not in choices:
            choices.append(prefix)
        choices.append(action)
    return choices


async def administered_group_ids(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    statement = select(GroupMembership.group_id).where(
        col(GroupMembership.user_id) == user_id, col(GroupMembership.role) == GroupRole.ADMIN
    )
    return list(await session.scalars(statement))


async def check_access(
    session: AsyncSession, actor: User | None, filters: AuditFilter
) -> AuditFilter:
    """The validated filter if `actor` may read what it selects; Forbidden otherwise."""
    user = require_active(actor)
    checked = validated(filters)
    if acts_as_site_admin(user):
        return checked
    if checked.group_id is not None and checked.group_id in await administered_group_ids(
        session, user.id
    ):
        return checked
    raise Forbidden("Only administrators can read the audit log.")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _conditions(filters: AuditFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if filters.actor:
        try:
            where.append(col(AuditEvent.actor_id) == uuid.UUID(filters.actor))
        except ValueError:
            email = cast("SQLCoreOperations[str]", col(AuditEvent.actor_email))
            where.append(contains(email, filters.actor))
    if filters.action.endswith("."):
        escaped = filters.action.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
        where.append(col(AuditEvent.action).like(f"{escaped}%", escape="\\"))
    elif filters.action:
        where.append(col(AuditEvent.action) == filters.action)
    if filters.resource_type:
        where.append(col(AuditEvent.resource_type) == filters.resource_type)
    if filters.resource_id:
        where.append(col(AuditEvent.resource_id) == filters.resource_id)
    if filters.group_id is not None:
        where.append(col(AuditEvent.group_id) == filters.group_id)
    if filters.start is not None:
        where.append(col(AuditEvent.created_at) >= _day_start(filters.start))
    if filters.end is not None:
        where.append(col(AuditEvent.created_at) < _day_start(filters.end + timedelta(days=1)))
    return where


def encode_cursor(event: AuditEvent) -> str:
    raw = f"{event.created_at.astimezone(UTC).isoformat()}|{event.id.hex}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, _, hex_id = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        created = datetime.fromisoformat(moment)
        if created.tzinfo is None:
            raise ValueError("naive")
        return created, uuid.UUID(hex_id)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed({"cursor": "This page link is not valid; start again."}) from None


def _page_query(where: list[ColumnElement[bool]], after: str | None) -> SelectOfScalar[AuditEvent]:
    statement = select(AuditEvent).where(*where)
    if after:
        created, event_id = decode_cursor(after)
        # A row comparison: PostgreSQL turns it into one index range on (created_at, id).
        statement = statement.where(
            tuple_(col(AuditEvent.created_at), col(AuditEvent.id))
            < tuple_(
                bindparam("cursor_at", created, type_=UTCDateTime()),
                bindparam("cursor_id", event_id, type_=Uuid()),
            )
        )
    return statement.order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())


async def _capped_count(session: AsyncSession, where: list[ColumnElement[bool]]) -> int:
    matching = select(col(AuditEvent.id)).where(*where).limit(COUNT_CAP + 1).subquery()
    return int(await session.scalar(select(func.count()).select_from(matching)) or 0)


async def list_events(
    session: AsyncSession,
    actor: User | None,
    filters: AuditFilter,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditPage:
    """A page of matching entries, newest first, starting after `cursor` (a `next_cursor`)."""
    checked = await check_access(session, actor, filters)
    reader = require_active(actor)
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise ValidationFailed({"limit": f"Page size must be between 1 and {PAGE_SIZE_MAX}."})
    where = _conditions(checked)
    rows = list(await session.scalars(_page_query(where, cursor or None).limit(limit + 1)))
    events, more = rows[:limit], len(rows) > limit
    counted = await _capped_count(session, where)
    return AuditPage(
        events=[AuditEntry.of(event, reader) for event in events],
        next_cursor=encode_cursor(events[-1]) if more else None,
        total=min(counted, COUNT_CAP),
        total_capped=counted > COUNT_CAP,
    )


def details_text(details: dict[str, Any] | None) -> str:
    """Details as compact `key=value` pairs for a table cell."""
    if not details:
        return ""
    parts = []
    for key, value in details.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def neutralise(value: str) -> str:
    """Make a cell inert in spreadsheets: a leading formula character gets a `'` before it."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([neutralise(v) for v in values])
    return buffer.getvalue()


def csv_values(event: AuditEntry) -> list[str]:
    return [
        event.created_at.astimezone(UTC).isoformat(),
        event.actor_email or "",
        str(event.actor_id) if event.actor_id else "",
        event.action,
        event.resource_type or "",
        event.resource_id or "",
        str(event.group_id) if event.group_id else "",
        event.ip or "",
        json.dumps(event.details or {}, default=str, sort_keys=True) if event.details else "",
    ]


async def begin_export(
    session: AsyncSession,
    actor: User | None,
    filters: AuditFilter,
    context: audit.RequestContext | None = None,
) -> AuditFilter:
    """Check access and record who exported what (the export itself is a security event)."""
    checked = await check_access(session, actor, filters)
    audit.record(
        session,
        "audit.export",
        actor=actor,
        context=context,
        group_id=checked.group_id,
        filters={
            name: str(value) for name, value in vars(checked).items() if value not in ("", None)
        },
    )
    await session.commit()
    return checked


async def export_csv(
    session: AsyncSession, actor: User | None, filters: AuditFilter
) -> AsyncIterator[str]:
    """The header line, then every matching entry newest first, read in keyset batches.

    Access is checked on the first iteration; call `check_access` first to fail before
    streaming starts (an HTTP response cannot change its status once the body has begun).
    """
    checked = await check_access(session, actor, filters)
    reader = require_active(actor)
    where = _conditions(checked)
    yield _csv_line(list(CSV_COLUMNS))
    after: str | None = None
    while True:
        batch = list(await session.scalars(_page_query(where, after).limit(EXPORT_BATCH)))
        for event in batch:
            yield _csv_line(csv_values(AuditEntry.of(event, reader)))
        if len(batch) < EXPORT_BATCH:
            return
        after = encode_cursor(batch[-1])
        # Loaded rows are not needed again; keep memory flat on a long export.
        session.expunge_all()
