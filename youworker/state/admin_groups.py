"""Admin: every group on the installation."""

from __future__ import annotations

import dataclasses

from youworker.db import session_scope
from youworker.models import User
from youworker.services import groups
from youworker.state.admin_list import PAGE_SIZE, SearchableList
from youworker.state.session import SessionState


@dataclasses.dataclass
class AdminGroupRow:
    id: str = ""
    name: str = ""
    description: str = ""
    members: int = 0
    created: str = ""
    my_role: str = ""


class AdminGroupsState(SearchableList, SessionState):
    rows: list[AdminGroupRow] = []

    def _forget_page(self) -> None:
        self.rows = []

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
