"""The conversation list: search, next pages, rename and delete, following the user's other tabs."""

from __future__ import annotations

import time
import uuid

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import chat
from youworker.services.chat.events import answer_origin, conversation_events
from youworker.services.errors import NotFound, ServiceError
from youworker.services.runtime import get_chat_runs
from youworker.state.chat.core import ChatCore
from youworker.state.chat.rows import ConversationRow, decode_cursor, encode_cursor
from youworker.state.guards import signed_in
from youworker.state.times import iso_utc

SIDEBAR_PAGE = 30
WATCH_WAIT_SECONDS = 15.0
LIST_IDLE_SECONDS = 3600.0
SEARCH_MAX_CHARS = 200


class ConversationList(ChatCore, mixin=True):
    conversations: list[ConversationRow] = []
    conversations_cursor: str = ""
    search_query: str = ""
    sidebar_loaded: bool = False
    renaming_id: str = ""
    deleting_id: str = ""
    dialog_title: str = ""
    _following_list: bool = False

    @rx.var
    def has_more_conversations(self) -> bool:
        return self.conversations_cursor != ""

    @rx.var
    def conversations_note(self) -> str:
        """What the sidebar says when it lists nothing."""
        if self.conversations or not self.sidebar_loaded:
            return ""
        if self.search_query.strip():
            return "No conversations match your search."
        return "No conversations yet. Your chats will be listed here."

    async def _load_sidebar(self, user: User, more: bool = False, keep: bool = False) -> None:
        """The first page of the list, the next page (`more`), or as many as shown (`keep`)."""
        after = decode_cursor(self.conversations_cursor) if more else None
        limit = max(SIDEBAR_PAGE, len(self.conversations)) if keep else SIDEBAR_PAGE
        async with session_scope() as db:
            page = await chat.list_conversations(
                db, user, query=self.search_query, after=after, limit=limit
            )
        rows = [
            ConversationRow(str(c.id), chat.title_of(c), iso_utc(c.updated_at)) for c in page.items
        ]
        self.conversations = [*self.conversations, *rows] if more else rows
        self.conversations_cursor = encode_cursor(page.next_cursor)
        self.sidebar_loaded = True

    @rx.event
    @signed_in
    async def load_more_conversations(self, user: User) -> EventSpec | None:
        await self._load_sidebar(user, more=True)
        return None

    @rx.event
    @signed_in
    async def search(self, user: User, query: str) -> EventSpec | None:
        self.search_query = query[:SEARCH_MAX_CHARS]
        await self._load_sidebar(user)
        return None

    # ---- other tabs --------------------------------------------------------------------------

    @rx.event(background=True)
    async def follow_list(self) -> None:
        """Keep the conversation list (and an open conversation) in step with the user's other
        tabs: they create, rename, delete and finish answers; this tab refreshes."""
        async with self:
            if self._following_list or not self._user_id:
                return
            self._following_list = True
            user_id = uuid.UUID(self._user_id)
            origin = self._origin()
        seen = conversation_events.version(user_id)
        # A closed tab is never told; it stops following after a quiet hour (a page load
        # starts it again).
        idle_until = time.monotonic() + LIST_IDLE_SECONDS
        try:
            while time.monotonic() < idle_until:
                change = await conversation_events.wait(user_id, seen, WATCH_WAIT_SECONDS)
                if change is not None and change.only_origin == origin:
                    # This tab's own change (it already shows it): no need for the state lock,
                    # which the answer it just started needs for its first token.
                    seen = change.version
                    continue
                async with self:
                    if not self.router.url.path.startswith("/chat") or self._user_id != str(
                        user_id
                    ):
                        return
                    if change is None:
                        continue
                    seen = change.version
                    idle_until = time.monotonic() + LIST_IDLE_SECONDS
                    if self._watching and change.only_origin == answer_origin(self._watching):
                        continue  # this tab's watch shows that answer end and refreshes the list
                    user = await self._authenticate()
                    if user is None:
                        return
                    await self._sync_with_other_tabs(user)
        finally:
            async with self:
                self._following_list = False

    async def _sync_with_other_tabs(self, user: User) -> None:
        await self._load_sidebar(user, keep=True)
        if not self.current_id or self.streaming:
            return
        try:
            async with session_scope() as db:
                conversation = await chat.get_owned(db, user, uuid.UUID(self.current_id))
        except NotFound:
            self._lose_thread()
            return
        self.current_title = chat.title_of(conversation)

    # ---- rename and delete -----------------------------------------------------------------

    @rx.event
    def ask_rename(self, conversation_id: str, title: str) -> None:
        self.renaming_id, self.deleting_id, self.dialog_title = conversation_id, "", title

    @rx.event
    def ask_delete(self, conversation_id: str, title: str) -> None:
        self.deleting_id, self.renaming_id, self.dialog_title = conversation_id, "", title

    @rx.event
    def close_dialogs(self) -> None:
        self.renaming_id = self.deleting_id = ""

    @rx.event
    def dialog_open_changed(self, is_open: bool) -> None:
        if not is_open:
            self.renaming_id = self.deleting_id = ""

    @rx.event
    async def confirm_rename(self, form: dict[str, str]) -> EventSpec | None:
        target, self.renaming_id = self.renaming_id, ""
        return await self._rename(target, str(form.get("title", "")))

    @rx.event
    async def confirm_delete(self) -> EventSpec | None:
        target, self.deleting_id = self.deleting_id, ""
        return await self._delete(target)

    @signed_in
    async def _rename(self, user: User, conversation_id: str, title: str) -> EventSpec | None:
        try:
            async with session_scope() as db:
                conversation = await chat.rename(
                    db, user, uuid.UUID(conversation_id), title, origin=self._origin()
                )
        except (ServiceError, ValueError) as exc:
            return rx.toast.error(getattr(exc, "message", "Conversation not found."))
        if self.current_id == conversation_id:
            self.current_title = chat.title_of(conversation)
        await self._load_sidebar(user)
        return None

    @signed_in
    async def _delete(self, user: User, conversation_id: str) -> EventSpec | None:
        try:
            key = uuid.UUID(conversation_id)
            await get_chat_runs().stop(user, key)
            async with session_scope() as db:
                await chat.delete_conversation(
                    db, user, key, self._context(), origin=self._origin()
                )
        except (ServiceError, ValueError):
            return rx.toast.error("Conversation not found.")
        await self._load_sidebar(user)
        if self.current_id == conversation_id:
            self._clear_thread()
            return rx.redirect("/chat")
        return None
