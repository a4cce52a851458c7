"""Admin system page: dependency health, active models, versions, settings without secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import system_info
from youworker.services.errors import ServiceError
from youworker.state.guards import AdminPage, site_admin_view
from youworker.state.session import SessionState


class AdminSystemState(AdminPage, SessionState):
    loading: bool = False
    status: str = ""
    probes: list[dict[str, str]] = []
    llm: dict[str, str] = {}
    embedder: dict[str, str] = {}
    versions: list[dict[str, str]] = []
    settings_rows: list[dict[str, str]] = []

    def _forget_page(self) -> None:
        self.probes, self.versions, self.settings_rows = [], [], []
        self.llm, self.embedder, self.status = {}, {}, ""

    @site_admin_view
    async def _refresh(self, user: User) -> EventSpec | None:
        try:
            async with session_scope() as db:
                info = await system_info.collect(db, user)
        except ServiceError as exc:
            return rx.toast.error(exc.message)
        self.status = info.status
        self.probes = [
            {
                "name": p.name,
                "status": p.status,
                "latency": f"{p.latency_ms:.1f} ms" if p.latency_ms is not None else "—",
                "detail": p.detail,
            }
            for p in info.probes
        ]
        self.llm = info.llm
        self.embedder = info.embedder
        self.versions = [{"name": k, "version": v} for k, v in info.versions.items()]
        self.settings_rows = [{"name": k, "value": v} for k, v in info.settings]
        return None

    @rx.event
    async def load(self) -> EventSpec | None:
        return await self._refresh()

    @rx.event
    async def refresh(self) -> AsyncIterator[EventSpec | None]:
        # Probes may take a couple of seconds: show the spinner first.
        self.loading = True
        yield None
        try:
            result = await self._refresh()
        finally:
            self.loading = False
        yield result
