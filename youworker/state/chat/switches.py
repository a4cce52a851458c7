"""The composer's switches: the model, the tools, "Use my documents" and where it searches."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import Conversation, User
from youworker.services import chat
from youworker.services.documents import collections
from youworker.services.errors import NotFound
from youworker.services.llm.provider import user_notice
from youworker.services.runtime import get_provider_manager, get_tool_registry
from youworker.state.chat.core import ChatCore
from youworker.state.chat.rows import CollectionChoice, ToolToggle
from youworker.state.guards import signed_in

MODEL_LIST_SECONDS = 3.0


class Switches(ChatCore, mixin=True):
    models: list[str] = []
    provider_banner: str = ""
    tools: list[ToolToggle] = []
    use_documents: bool = False
    # The collections document search looks in (ids); none: every document the person may read.
    collections_chosen: list[str] = []
    collection_options: list[CollectionChoice] = []

    def _refresh_provider(self) -> None:
        self.provider_banner = user_notice(get_provider_manager().status())

    async def _load_collections(self, user: User) -> None:
        async with session_scope() as db:
            views = await collections.list_collections(db, user)
        self.collection_options = [
            CollectionChoice(v.id, f"{v.name} ({v.group_name})" if v.group_name else v.name)
            for v in views
        ]

    def _refresh_tools(self, conversation: Conversation | None) -> None:
        self.use_documents = conversation.use_documents if conversation else self.use_documents
        if conversation is not None:
            self.collections_chosen = [str(c) for c in conversation.collection_ids or []]
        disabled = set(conversation.disabled_tools) if conversation else set()
        self.tools = [
            ToolToggle(spec.name, spec.description[:140], spec.name not in disabled)
            for spec in get_tool_registry().specs(set())
        ]

    def _disabled_tools(self) -> list[str]:
        return [t.name for t in self.tools if not t.enabled]

    def _chosen_collections(self) -> list[uuid.UUID]:
        return [uuid.UUID(c) for c in self.collections_chosen]

    @rx.event(background=True)
    async def load_models(self) -> EventSpec | None:
        """The model list comes from the backend over HTTP, so it never holds up the page.
        Signed-in users only: any client can send this event, and each one asks the backend."""
        async with self:
            if await self._authenticate() is None:
                return self._to_sign_in()
        try:
            infos = await asyncio.wait_for(
                get_provider_manager().backend().list_models(), MODEL_LIST_SECONDS
            )
            names = [info.name for info in infos]
        except Exception:  # an unreachable backend leaves the picker with the default only
            names = []
        default = get_provider_manager().default_model()
        async with self:
            current = self.current_model or default
            self.models = sorted({*names, current, default} - {""})
            self.current_model = current
        return None

    @rx.event
    @signed_in
    async def choose_model(self, user: User, model: str) -> EventSpec | None:
        self.current_model = model[: chat.NAME_MAX_CHARS]
        if self.current_id:
            async with session_scope() as db:
                await chat.set_model(db, user, uuid.UUID(self.current_id), self.current_model)
        return None

    @rx.event
    @signed_in
    async def toggle_tool(self, user: User, name: str, enabled: bool) -> EventSpec | None:
        self.tools = [
            dataclasses.replace(t, enabled=enabled) if t.name == name else t for t in self.tools
        ]
        if self.current_id:
            async with session_scope() as db:
                await chat.set_disabled_tools(
                    db, user, uuid.UUID(self.current_id), self._disabled_tools()
                )
        return None

    @rx.var
    def collections_summary(self) -> str:
        """What the "Search in" button says: all documents, the one collection, or how many."""
        labels = {o.id: o.label for o in self.collection_options}
        chosen = [labels[c] for c in self.collections_chosen if c in labels]
        if not chosen:
            return "All documents"
        return chosen[0] if len(chosen) == 1 else f"{len(chosen)} collections"

    @rx.event
    async def toggle_collection(self, collection_id: str, checked: bool) -> EventSpec | None:
        """Add a collection to the search, or take it out (none left: all documents)."""
        if collection_id not in {o.id for o in self.collection_options}:
            return None
        chosen = [c for c in self.collections_chosen if c != collection_id]
        if checked and len(chosen) >= chat.MAX_COLLECTIONS:
            self.composer_error = f"Search at most {chat.MAX_COLLECTIONS} collections at once."
            return None
        return await self._search_in([*chosen, collection_id] if checked else chosen)

    @rx.event
    async def search_all_documents(self) -> EventSpec | None:
        return await self._search_in([])

    @signed_in
    async def _search_in(self, user: User, chosen: list[str]) -> EventSpec | None:
        self.collections_chosen, self.composer_error = chosen, ""
        if self.current_id:
            try:
                async with session_scope() as db:
                    await chat.set_collections(
                        db, user, uuid.UUID(self.current_id), self._chosen_collections()
                    )
            except NotFound as exc:  # a collection deleted meanwhile, or no longer theirs
                self.collections_chosen, self.composer_error = [], exc.message
                await self._load_collections(user)
        return None

    @rx.event
    @signed_in
    async def toggle_documents(self, user: User, enabled: bool) -> EventSpec | None:
        """ "Use my documents": passages are retrieved before the model is asked."""
        self.use_documents = bool(enabled)
        if self.current_id:
            async with session_scope() as db:
                await chat.set_use_documents(
                    db, user, uuid.UUID(self.current_id), self.use_documents
                )
        return None
