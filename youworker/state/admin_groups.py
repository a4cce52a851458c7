"""Admin: every group on the installation."""

from __future__ import annotations

import dataclasses

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import groups
from youworker.state.session import SessionState

PAGE_SIZE = 20


@dataclasses.dataclass
class AdminGroupRow:
    id: str = ""
    name: str = ""
    description: str = ""
    members: int = 0
    created: str = ""
    my_role: str = ""


class AdminGroupsState(SessionState):
    access_denied: bool = False
    rows: list[AdminGroupRow] = []
    total: int = 0
    page: int = 0
    query: str = ""

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    async def _admin(self) -> tuple[User | None, EventSpec | None]:
        user = await self._authenticate()
        if user is None:
            return None, self._to_sign_in()
        self.access_denied = not self.is_admin
        return (user, None) if self.is_admin else (None, None)

    async def _reload(self, actor: User) -> None:
        async with session_scope() as db:
            found = await groups.list_all_groups(
                db, actor, query=self.query, offset=self.page * PAGE_SIZE, limit=PAGE_SIZE
            )
        self.total = found.total
        self.rows = [
            AdminGroupRow(
                id=str(g.id),
                name=g.name,
                description=g.description,
                members=g.member_count,
                created=g.created_at.strftime("%Y-%m-%d"),
                my_role=g.my_role or "",
            )
            for g in found.groups
        ]

    @rx.event
    async def load(self) -> EventSpec | None:
        actor, redirect = await self._admin()
        if actor is None:
            self.rows = []
            return redirect
        self.page = 0
        await self._reload(actor)
        return None

    @rx.event
    async def search(self, query: str) -> EventSpec | None:
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        self.query, self.page = query[:100], 0
        await self._reload(actor)
        return None

    @rx.event
    async def go_to_page(self, page: int) -> EventSpec | None:
        actor, redirect = await self._admin()
        if actor is None:
            return redirect
        self.page = max(0, min(int(page), self.page_count - 1))
        await self._reload(actor)
        return None
