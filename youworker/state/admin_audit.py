"""Admin audit log: filters, keyset pages, CSV link. The service refuses everyone but admins."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services.audit import trail
from youworker.services.errors import ServiceError, ValidationFailed
from youworker.state.guards import AdminPage, site_admin_view
from youworker.state.session import SessionState
from youworker.state.times import iso_utc

PAGE_SIZE = 50
ALL_ACTIONS = "all"
EXPORT_PATH = "/api/admin/audit.csv"
FILTER_FIELDS = ("actor", "action", "resource_type", "resource_id", "start", "end")


def audit_rows(events: Iterable[trail.AuditEntry]) -> list[dict[str, str]]:
    """Table rows for `components.audit_table.audit_table` (JSON-able, all strings)."""
    return [
        {
            "id": str(event.id),
            "time": iso_utc(event.created_at),
            "actor": event.actor_email or "system",
            "action": event.action,
            "resource_type": event.resource_type or "",
            "resource_id": event.resource_id or "",
            "ip": event.ip or "",
            "details": trail.details_text(event.details),
        }
        for event in events
    ]


async def group_activity_rows(
    actor: User, group_id: uuid.UUID, limit: int = 20
) -> list[dict[str, str]]:
    """The newest entries of one group, for its group admins and site admins.

    Raises the service's errors (Forbidden for anyone else); catch `ServiceError`.
    """
    async with session_scope() as db:
        page = await trail.list_events(db, actor, trail.AuditFilter(group_id=group_id), limit=limit)
    return audit_rows(page.events)


def export_href(filters: dict[str, str]) -> str:
    """The CSV download link for these filters (empty ones left out)."""
    query = urlencode({k: v for k, v in filters.items() if v})
    return f"{EXPORT_PATH}?{query}" if query else EXPORT_PATH


class AdminAuditState(AdminPage, SessionState):
    rows: list[dict[str, str]] = []
    actor: str = ""
    action: str = ALL_ACTIONS
    resource_type: str = ""
    resource_id: str = ""
    start: str = ""
    end: str = ""
    errors: dict[str, str] = {}
    # cursors[i] opened page i ("" for the first); the last one is the page on screen.
    cursors: list[str] = [""]
    next_cursor: str = ""
    total: int = 0
    total_capped: bool = False

    @rx.var
    def page_number(self) -> int:
        return len(self.cursors)

    @rx.var
    def total_label(self) -> str:
        count = f"{self.total:,}{'+' if self.total_capped else ''}"
        return f"{count} entr{'y' if self.total == 1 else 'ies'}"

    @rx.var
    def export_url(self) -> str:
        return export_href(self._filter_values())

    def _filter_values(self) -> dict[str, str]:
        return {
            "actor": self.actor,
            "action": "" if self.action == ALL_ACTIONS else self.action,
            "resource_type": self.resource_type,
            "resource_id": self.resource_id,
            "start": self.start,
            "end": self.end,
        }

    def _forget_page(self) -> None:
        self.rows = []

    async def _reload(self, actor: User) -> None:
        try:
            filters = trail.AuditFilter.from_params(**self._filter_values())
            async with session_scope() as db:
                page = await trail.list_events(
                    db, actor, filters, cursor=self.cursors[-1] or None, limit=PAGE_SIZE
                )
        except ValidationFailed as exc:
            self.errors = exc.fields
            self.rows, self.next_cursor, self.total, self.total_capped = [], "", 0, False
            return
        self.errors = {}
        self.rows = audit_rows(page.events)
        self.next_cursor = page.next_cursor or ""
        self.total, self.total_capped = page.total, page.total_capped

    @site_admin_view
    async def _guarded_reload(self, actor: User) -> EventSpec | None:
        try:
            await self._reload(actor)
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        return None

    @rx.event
    async def load(self) -> EventSpec | None:
        """on_load: filters may come in the URL (e.g. ?resource_type=document&resource_id=…)."""
        params = self.router.url.query_parameters
        for name in FILTER_FIELDS:
            value = str(params.get(name, ""))[:300]
            setattr(self, name, value)
        if not self.action:
            self.action = ALL_ACTIONS
        self.cursors = [""]
        return await self._guarded_reload()

    @rx.event
    async def apply_filters(self, form: dict[str, Any]) -> EventSpec | None:
        for name in FILTER_FIELDS:
            value = form.get(name)
            if isinstance(value, str):
                setattr(self, name, value[:300])
        self.cursors = [""]
        return await self._guarded_reload()

    @rx.event
    async def clear_filters(self) -> EventSpec | None:
        self.actor = self.resource_type = self.resource_id = self.start = self.end = ""
        self.action = ALL_ACTIONS
        self.cursors = [""]
        return await self._guarded_reload()

    @rx.event
    async def set_action_filter(self, action: str) -> EventSpec | None:
        self.action = action[:64]
        self.cursors = [""]
        return await self._guarded_reload()

    @rx.event
    async def show_resource(self, resource_type: str, resource_id: str) -> EventSpec | None:
        """Clicking a resource narrows the log to everything that happened to it."""
        self.resource_type, self.resource_id = resource_type[:32], resource_id[:64]
        self.cursors = [""]
        return await self._guarded_reload()

    @rx.event
    async def older(self) -> EventSpec | None:
        if not self.next_cursor:
            return None
        self.cursors = [*self.cursors, self.next_cursor]
        return await self._guarded_reload()

    @rx.event
    async def newer(self) -> EventSpec | None:
        if len(self.cursors) <= 1:
            return None
        self.cursors = self.cursors[:-1]
        return await self._guarded_reload()

    @rx.event
    def set_actor(self, value: str) -> None:
        self.actor = value[:300]

    @rx.event
    def set_resource_type(self, value: str) -> None:
        self.resource_type = value[:300]

    @rx.event
    def set_resource_id(self, value: str) -> None:
        self.resource_id = value[:300]

    @rx.event
    def set_start(self, value: str) -> None:
        self.start = value[:10]

    @rx.event
    def set_end(self, value: str) -> None:
        self.end = value[:10]
