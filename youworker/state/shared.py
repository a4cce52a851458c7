"""Shared with me: conversations others shared with the viewer's groups, and reading one.

Access is asked of the sharing service on every load and every "Load earlier", so leaving or
being removed from the group ends it at once.
"""

from __future__ import annotations

import dataclasses
import uuid

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import sharing
from youworker.services.errors import NotFound
from youworker.state.chat import THREAD_PAGE
from youworker.state.chat.rows import MessageRow, message_rows
from youworker.state.guards import signed_in
from youworker.state.session import SessionState
from youworker.state.times import iso_utc


@dataclasses.dataclass
class SharedRow:
    id: str = ""
    title: str = ""
    owner: str = ""
    groups: str = ""
    updated: str = ""


class SharedListState(SessionState):
    shared_rows: list[SharedRow] = []
    shared_loaded: bool = False

    @rx.event
    @signed_in
    async def load(self, user: User) -> EventSpec | None:
        async with session_scope() as db:
            items = await sharing.list_shared_with_me(db, user)
        self.shared_rows = [
            SharedRow(
                id=str(item.id),
                title=item.title,
                owner=item.owner_name,
                groups=", ".join(item.group_names),
                updated=iso_utc(item.updated_at),
            )
            for item in items
        ]
        self.shared_loaded = True
        return None


class SharedConversationState(SessionState):
    """One shared conversation, read-only: its messages, oldest first, a page at a time."""

    shared_id: str = ""
    shared_title: str = ""
    shared_owner: str = ""
    shared_groups: str = ""
    shared_by_me: bool = False
    shared_messages: list[MessageRow] = []
    shared_has_older: bool = False
    shared_not_available: bool = False
    shared_ready: bool = False

    def _route_conversation(self) -> str:
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1] if len(parts) >= 2 and parts[0] == "shared" else ""

    def _unavailable(self) -> None:
        self.shared_id = self.shared_title = self.shared_owner = self.shared_groups = ""
        self.shared_by_me = False
        self.shared_messages = []
        self.shared_has_older = False
        self.shared_not_available = True
        self.shared_ready = True

    @rx.event
    @signed_in
    async def load(self, user: User) -> EventSpec | None:
        """on_load for /shared/<id>."""
        try:
            conversation_id = uuid.UUID(self._route_conversation())
            async with session_scope() as db:
                info = await sharing.describe_shared_conversation(db, user, conversation_id)
                page = await sharing.read_shared_messages(
                    db, user, conversation_id, limit=THREAD_PAGE
                )
                # An answer still being written is shown once it is saved, as on the owner's
                # page; a cited document the reader cannot open says why.
                saved = [v for v in page.messages if v.status != "streaming"]
                rows = await message_rows(db, user, saved)
        except (NotFound, ValueError):
            self._unavailable()
            return None
        self.shared_id = str(info.id)
        self.shared_title = info.title
        self.shared_owner = info.owner_name
        self.shared_groups = ", ".join(info.group_names)
        self.shared_by_me = info.is_owner
        self.shared_messages = rows
        self.shared_has_older = page.has_more
        self.shared_not_available = False
        self.shared_ready = True
        return None

    @rx.event
    @signed_in
    async def load_older(self, user: User) -> EventSpec | None:
        if not self.shared_id or not self.shared_messages:
            return None
        try:
            async with session_scope() as db:
                page = await sharing.read_shared_messages(
                    db,
                    user,
                    uuid.UUID(self.shared_id),
                    before=uuid.UUID(self.shared_messages[0].id),
                    limit=THREAD_PAGE,
                )
                older = await message_rows(db, user, page.messages)
        except (NotFound, ValueError):
            self._unavailable()  # no longer shared with the viewer, or deleted meanwhile
            return None
        self.shared_messages = [*older, *self.shared_messages]
        self.shared_has_older = page.has_more
        return None
