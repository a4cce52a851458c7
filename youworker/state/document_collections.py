"""The Documents page's collections: pick one to narrow the list, make one, and put the
selected documents in or take them out. Every change goes through services/documents/collections,
which checks who may do it."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable

import reflex as rx
from reflex.event import EventSpec
from sqlalchemy.ext.asyncio import AsyncSession

from youworker.db import session_scope
from youworker.models import User
from youworker.services import groups
from youworker.services.documents import collections
from youworker.services.errors import ServiceError
from youworker.state.documents import DocumentsState
from youworker.state.guards import signed_in

# (session, person, collection, documents) -> how many documents changed
Change = Callable[[AsyncSession, User, uuid.UUID, list[uuid.UUID]], Awaitable[int]]
MAX_SELECTED = 200  # one page is 20 rows; selections survive paging up to this many


@dataclasses.dataclass
class CollectionOption:
    id: str = ""
    label: str = ""  # "Travel", or "Handbook (Team)" for a group's
    can_manage: bool = False
    count: int = 0


@dataclasses.dataclass
class GroupChoice:
    id: str = ""
    name: str = ""


class CollectionsState(DocumentsState):
    options: list[CollectionOption] = []
    own_groups: list[GroupChoice] = []  # groups the person administers: they may add to them
    selected: list[str] = []
    new_open: bool = False
    new_name: str = ""
    new_owner: str = "me"  # "me", or the id of a group the person administers
    collection_notice: str = ""

    @rx.var
    def manageable(self) -> list[CollectionOption]:
        return [option for option in self.options if option.can_manage]

    @rx.var
    def current_manageable(self) -> bool:
        return any(o.id == self.collection and o.can_manage for o in self.options)

    @rx.var
    def filter_value(self) -> str:
        return self.collection or "all"

    @rx.event
    @signed_in
    async def load_collections(self, user: User) -> EventSpec | None:
        self.selected, self.collection_notice = [], ""
        async with session_scope() as db:
            views = await collections.list_collections(db, user)
            mine = await groups.list_my_groups(db, user)
        self.options = [
            CollectionOption(
                id=v.id,
                label=f"{v.name} ({v.group_name})" if v.group_name else v.name,
                can_manage=v.can_manage,
                count=v.document_count,
            )
            for v in views
        ]
        self.own_groups = [
            GroupChoice(id=str(g.id), name=g.name) for g in mine if g.my_role == "admin"
        ]
        return None

    @rx.event
    def toggle_selected(self, document_id: str, checked: bool) -> None:
        chosen = [d for d in self.selected if d != document_id]
        if checked and len(chosen) < MAX_SELECTED:
            chosen.append(document_id)
        self.selected = chosen

    @rx.event
    def clear_selected(self) -> None:
        self.selected = []

    @rx.event
    def set_new_open(self, is_open: bool) -> None:
        self.new_open = is_open
        if is_open:
            self.new_name, self.new_owner, self.collection_notice = "", "me", ""

    @rx.event
    def set_new_name(self, name: str) -> None:
        self.new_name = name[:200]

    @rx.event
    def set_new_owner(self, owner: str) -> None:
        self.new_owner = owner if owner in {"me", *(g.id for g in self.own_groups)} else "me"

    @rx.event
    @signed_in
    async def create(self, user: User) -> EventSpec | None:
        group_id = None if self.new_owner == "me" else uuid.UUID(self.new_owner)
        try:
            async with session_scope() as db:
                await collections.create_collection(
                    db, user, self.new_name, group_id=group_id, context=self._context()
                )
        except ServiceError as exc:
            self.collection_notice = exc.message.removeprefix("name: ")
            return None
        self.new_open = False
        self.notice = f"Collection {' '.join(self.new_name.split())} made."
        return CollectionsState.load_collections  # type: ignore[return-value]

    @rx.var
    def move_targets(self) -> list[CollectionOption]:
        """Where the selected documents may move from the collection shown."""
        return [o for o in self.options if o.can_manage and o.id != self.collection]

    @rx.var
    def page_selected(self) -> bool:
        """Every row on this page is ticked (the header's box)."""
        return bool(self.rows) and all(row.id in self.selected for row in self.rows)

    @rx.event
    def toggle_page(self, checked: bool) -> None:
        """Tick or untick every row on this page; ticks on other pages stay."""
        on_page = [row.id for row in self.rows]
        chosen = [d for d in self.selected if d not in on_page]
        if checked:
            chosen.extend(on_page[: max(0, MAX_SELECTED - len(chosen))])
        self.selected = chosen

    @signed_in
    async def _change(
        self, user: User, collection_id: str, done: str, change: Change
    ) -> EventSpec | None:
        """Run `change` on the ticked documents and `collection_id`; "N document(s) <done> X"."""
        try:
            target = uuid.UUID(collection_id)
            documents = [uuid.UUID(d) for d in self.selected]
            async with session_scope() as db:
                count = await change(db, user, target, documents)
        except (ServiceError, ValueError) as exc:
            self.notice = getattr(exc, "message", "Collection not found.")
            return None
        label = next((o.label for o in self.options if o.id == collection_id), "the collection")
        self.notice = f"{count} document(s) {done} {label}."
        self.selected = []
        await self._reload()
        return CollectionsState.load_collections  # type: ignore[return-value]

    @rx.event
    async def add_selected(self, collection_id: str) -> EventSpec | None:
        context = self._context()
        return await self._change(
            collection_id,
            "added to",
            lambda db, user, target, ids: collections.add_documents(db, user, target, ids, context),
        )

    @rx.event
    async def remove_selected(self) -> EventSpec | None:
        context = self._context()
        return await self._change(
            self.collection,
            "taken out of",
            lambda db, user, target, ids: collections.remove_documents(
                db, user, target, ids, context
            ),
        )

    @rx.event
    async def move_selected(self, collection_id: str) -> EventSpec | None:
        """Out of the collection shown and into `collection_id`, in one step."""
        context, shown = self._context(), self.collection

        async def move(
            db: AsyncSession, user: User, target: uuid.UUID, ids: list[uuid.UUID]
        ) -> int:
            source = uuid.UUID(shown)  # ValueError when none is shown: "Collection not found."
            return await collections.move_documents(db, user, source, target, ids, context)

        return await self._change(collection_id, "moved to", move)
