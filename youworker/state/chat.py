"""The chat page: conversation list, thread, composer and the live answer."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import reflex as rx
from reflex.event import EventSpec

from youworker.db import retry_when_locked, session_scope
from youworker.models import Conversation, User
from youworker.services import chat
from youworker.services.chat_events import answer_origin, conversation_events
from youworker.services.chat_runs import RunSnapshot
from youworker.services.documents import access, collections
from youworker.services.errors import (
    Conflict,
    NotFound,
    RateLimited,
    ServiceError,
    ValidationFailed,
)
from youworker.services.live_pace import live_pace
from youworker.services.llm.provider import user_notice
from youworker.services.markdown import escape_raw_html
from youworker.services.runtime import (
    get_chat_runs,
    get_config_sync,
    get_provider_manager,
    get_tool_registry,
)
from youworker.settings import get_settings
from youworker.state import scripts
from youworker.state.chat_rows import (
    ConversationRow,
    MessageRow,
    ToolRow,
    message_rows,
    question_row,
    tool_row_from_card,
)
from youworker.state.session import SessionState
from youworker.state.times import iso_utc

COMPOSER_ID = "composer"
# The composer empties once a message is accepted; a refused one stays to be edited.
CLEAR_COMPOSER = rx.set_value(COMPOSER_ID, "")
WATCH_WAIT_SECONDS = 15.0
WATCH_IDLE_SECONDS = 600.0
LIST_IDLE_SECONDS = 3600.0
SIDEBAR_PAGE = 30
THREAD_PAGE = 50


@dataclasses.dataclass
class ToolToggle:
    name: str = ""
    description: str = ""
    enabled: bool = True


class LiveAnswerState(SessionState):
    """The answer being written. Apart from ChatState so that its updates (up to 25 a second)
    re-render only the live bubble, not the thread and sidebar that read ChatState."""

    text: str = ""
    thinking: str = ""
    tools: list[ToolRow] = []

    def _show(self, snapshot: RunSnapshot) -> None:
        self.text = escape_raw_html(snapshot.text)
        thinking = escape_raw_html(snapshot.thinking)
        if thinking != self.thinking:
            self.thinking = thinking
        if len(snapshot.tools) != len(self.tools) or any(
            card.status != row.status for card, row in zip(snapshot.tools, self.tools, strict=True)
        ):
            self.tools = [tool_row_from_card(card) for card in snapshot.tools]

    def _clear(self) -> None:
        if self.text or self.thinking or self.tools:
            self.text = self.thinking = ""
            self.tools = []


def _encode_cursor(cursor: chat.ConversationCursor | None) -> str:
    return f"{cursor.updated_at.isoformat()}|{cursor.id}" if cursor else ""


def _decode_cursor(raw: str) -> chat.ConversationCursor | None:
    try:
        moment, ident = raw.split("|", 1)
        return chat.ConversationCursor(datetime.fromisoformat(moment), uuid.UUID(ident))
    except ValueError:
        return None


@dataclasses.dataclass
class CollectionChoice:
    id: str = ""
    label: str = ""


class ChatState(SessionState):
    conversations: list[ConversationRow] = []
    conversations_cursor: str = ""
    search_query: str = ""
    current_id: str = ""
    current_title: str = ""
    current_model: str = ""
    not_found: bool = False
    messages: list[MessageRow] = []
    pending_messages: list[MessageRow] = []
    has_older: bool = False
    streaming: bool = False
    composer_error: str = ""
    models: list[str] = []
    provider_banner: str = ""
    tools: list[ToolToggle] = []
    use_documents: bool = False
    # The collections document search looks in (ids); none: every document the person may read.
    collections_chosen: list[str] = []
    collection_options: list[CollectionChoice] = []
    renaming_id: str = ""
    deleting_id: str = ""
    dialog_title: str = ""
    sidebar_loaded: bool = False
    has_documents: bool = True  # until known: no upload hint flashes by
    _watching: str = ""
    _following_list: bool = False

    @rx.var
    def has_more_conversations(self) -> bool:
        return self.conversations_cursor != ""

    @rx.var
    def message_limit(self) -> int:
        return get_settings().chat.max_message_chars

    @rx.var
    def shows_welcome(self) -> bool:
        """A new chat, before its first message."""
        return not (self.current_id or self.messages or self.pending_messages or self.streaming)

    @rx.var
    def conversations_note(self) -> str:
        """What the sidebar says when it lists nothing."""
        if self.conversations or not self.sidebar_loaded:
            return ""
        if self.search_query.strip():
            return "No conversations match your search."
        return "No conversations yet. Your chats will be listed here."

    @rx.var
    def last_answer_id(self) -> str:
        """Only the latest answer can be regenerated."""
        if self.streaming or not self.messages or self.messages[-1].role != "assistant":
            return ""
        return self.messages[-1].id

    # ---- loading -------------------------------------------------------------------------

    def _route_conversation(self) -> str:
        parts = [p for p in self.router.url.path.split("/") if p]
        return parts[1] if len(parts) >= 2 and parts[0] == "chat" else ""

    async def _load_sidebar(self, user: User, more: bool = False, keep: bool = False) -> None:
        """The first page of the list, the next page (`more`), or as many as shown (`keep`)."""
        after = _decode_cursor(self.conversations_cursor) if more else None
        limit = max(SIDEBAR_PAGE, len(self.conversations)) if keep else SIDEBAR_PAGE
        async with session_scope() as db:
            page = await chat.list_conversations(
                db, user, query=self.search_query, after=after, limit=limit
            )
        rows = [
            ConversationRow(str(c.id), chat.title_of(c), iso_utc(c.updated_at)) for c in page.items
        ]
        self.conversations = [*self.conversations, *rows] if more else rows
        self.conversations_cursor = _encode_cursor(page.next_cursor)
        self.sidebar_loaded = True

    async def _load_thread(self, user: User, conversation: Conversation) -> None:
        async with session_scope() as db:
            page = await chat.list_messages(db, user, conversation.id, limit=THREAD_PAGE)
            # The answer being written shows in the live bubble, not as a saved message.
            saved = [v for v in page.messages if v.status != "streaming"]
            self.messages = await message_rows(db, user, saved)
        self.pending_messages = []
        self.has_older = page.has_more
        self.current_title = chat.title_of(conversation)
        self.current_model = conversation.model

    def _clear_thread(self) -> None:
        self.current_id = self.current_title = self.current_model = ""
        self.messages = []
        self.pending_messages = []
        self.has_older = False
        self._clear_stream()

    def _clear_stream(self) -> None:
        # The live bubble's own text is replaced when the next answer starts.
        if self.streaming:
            self.streaming = False

    async def _apply_snapshot(self, snapshot: RunSnapshot) -> None:
        streaming = not snapshot.finished
        if self.streaming != streaming:
            self.streaming = streaming
        live = await self.get_state(LiveAnswerState)
        live._show(snapshot)

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

    @rx.event
    async def load(self) -> EventSpec | list[EventSpec] | None:
        """on_load for /chat and /chat/<id>."""
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        self.composer_error = ""
        self.not_found = False
        self._refresh_provider()
        await get_config_sync().current()  # tools switched on or off through another worker
        await self._load_sidebar(user)
        await self._load_collections(user)
        target = self._route_conversation()
        if not target:
            self._clear_thread()
            self._refresh_tools(None)
            async with session_scope() as db:
                self.has_documents = await access.has_readable_documents(db, user)
            return [ChatState.load_models, ChatState.follow_list]
        try:
            async with session_scope() as db:
                conversation = await chat.get_owned(db, user, uuid.UUID(target))
        except (NotFound, ValueError):
            self._clear_thread()
            self.not_found = True
            return None
        self._clear_stream()
        self.current_id = str(conversation.id)
        await self._load_thread(user, conversation)
        self._refresh_tools(conversation)
        await get_chat_runs().follow(conversation.id)
        snapshot = get_chat_runs().snapshot(conversation.id)
        if snapshot is not None and not snapshot.finished:
            await self._apply_snapshot(snapshot)
        return [ChatState.load_models, ChatState.watch, ChatState.follow_list]

    @rx.event(background=True)
    async def load_models(self) -> EventSpec | None:
        """The model list comes from the backend over HTTP, so it never holds up the page.
        Signed-in users only: any client can send this event, and each one asks the backend."""
        async with self:
            if await self._authenticate() is None:
                return self._to_sign_in()
        try:
            infos = await asyncio.wait_for(get_provider_manager().backend().list_models(), 3.0)
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
    async def load_more_conversations(self) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        await self._load_sidebar(user, more=True)
        return None

    @rx.event
    async def search(self, query: str) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        self.search_query = query[:200]
        await self._load_sidebar(user)
        return None

    @rx.event
    async def load_older(self) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        if not self.current_id or not self.messages:
            return None
        async with session_scope() as db:
            page = await chat.list_messages(
                db,
                user,
                uuid.UUID(self.current_id),
                before=uuid.UUID(self.messages[0].id),
                limit=THREAD_PAGE,
            )
            older = await message_rows(db, user, page.messages)
        self.messages = [*older, *self.messages]
        self.has_older = page.has_more
        return None

    # ---- other tabs --------------------------------------------------------------------------

    def _origin(self) -> str:
        return self.router.session.client_token

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
            self._clear_thread()
            self.not_found = True
            return
        self.current_title = chat.title_of(conversation)

    # ---- the live answer -------------------------------------------------------------------

    @rx.event(background=True)
    async def watch(self) -> None:
        """Follow the open conversation: stream answers from any tab into this one."""
        async with self:
            if not self.current_id or self._watching == self.current_id:
                return
            conversation_id = self.current_id
            self._watching = conversation_id
            # This tab shows an answer being written: if it already ended (a fast answer ends
            # before a follower starts), the latest snapshot is shown at once, not missed.
            expecting = self.streaming
        runs = get_chat_runs()
        key = uuid.UUID(conversation_id)
        await runs.follow(key)
        seen = -1 if expecting or runs.is_running(key) else runs.version(key)
        idle_until = time.monotonic() + WATCH_IDLE_SECONDS
        last_push = 0.0
        live = False  # counted in live_pace while this tab shows an unfinished answer
        try:
            while time.monotonic() < idle_until:
                version = await runs.wait_for_change(key, seen, WATCH_WAIT_SECONDS)
                if version is None:
                    async with self:
                        if self.current_id != conversation_id:
                            return
                    continue
                seen = version
                idle_until = time.monotonic() + WATCH_IDLE_SECONDS
                snapshot = runs.snapshot(key)
                if snapshot is None and not expecting:
                    continue
                expecting = False
                if snapshot is not None and not snapshot.finished:
                    if not (snapshot.text or snapshot.thinking or snapshot.tools):
                        continue  # nothing to show yet; the bubble already says "Thinking"
                    if not live:
                        live = True
                        live_pace.join()
                    # Leading-edge throttle: the first token goes out at once, later ones are
                    # coalesced into one update per interval (40 ms unless the worker is busy).
                    wait = last_push + live_pace.interval() - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                        latest = runs.snapshot(key)
                        if latest is None or latest.finished:
                            continue  # the next turn of the loop shows the saved answer
                        snapshot = latest
                    # The state lock is taken only to show something: a wake-up with nothing
                    # to show must not queue behind the send handler.
                    async with self:
                        if self.current_id != conversation_id:
                            return
                        await self._apply_snapshot(snapshot)
                    last_push = time.monotonic()
                    continue
                if live:
                    live = False
                    live_pace.leave()
                async with self:
                    if self.current_id != conversation_id:
                        return
                    await self._after_answer(conversation_id)
        finally:
            if live:
                live_pace.leave()
            async with self:
                if self._watching == conversation_id:
                    self._watching = ""

    async def _after_answer(self, conversation_id: str) -> None:
        """Replace the live bubble by the saved answer and refresh the sidebar order."""
        user = await self._authenticate()
        if user is None or self.current_id != conversation_id:
            return
        try:
            async with session_scope() as db:
                conversation = await chat.get_owned(db, user, uuid.UUID(conversation_id))
        except NotFound:
            self._clear_thread()
            self.not_found = True
            return
        await self._load_thread(user, conversation)
        self._clear_stream()
        await self._load_sidebar(user)

    async def _start_run(
        self, user: User, text: str | None, conversation: Conversation | None = None
    ) -> bool:
        """Ask for the answer; a refusal is shown in the composer (or as not found)."""
        try:
            await get_chat_runs().start(
                user, uuid.UUID(self.current_id), text, conversation=conversation
            )
        except ValidationFailed as exc:
            self.composer_error = exc.fields.get("message", exc.message)
        except (Conflict, RateLimited) as exc:
            self.composer_error = exc.message
        except NotFound:
            self._clear_thread()
            self.not_found = True
        else:
            return True
        return False

    async def _show_answer_starting(self, text: str | None) -> None:
        """The question (if any) and the live bubble; the thread is updated, not reloaded."""
        if text is not None:
            # Shown beside the thread, not appended to it: re-sending and re-rendering every
            # message of a long thread would delay the first token.
            self.pending_messages = [question_row(f"pending-{uuid.uuid4().hex}", text)]
        elif self.messages and self.messages[-1].role == "assistant":
            self.messages = self.messages[:-1]
        self.streaming = True
        (await self.get_state(LiveAnswerState))._clear()

    def _show_new_conversation(self, conversation_id: uuid.UUID, text: str) -> None:
        self.current_id = str(conversation_id)
        self.current_title = chat.title_from(text) or chat.UNTITLED
        row = ConversationRow(self.current_id, self.current_title, iso_utc(datetime.now(UTC)))
        self.conversations = [row, *self.conversations]

    def _take_back_question(self, new_id: uuid.UUID | None = None) -> None:
        """Undo what `send` showed before saving (and a new conversation not saved)."""
        self.pending_messages = []
        self._clear_stream()
        if new_id is not None and self.current_id == str(new_id):
            self.conversations = [c for c in self.conversations if c.id != self.current_id]
            self.current_id = self.current_title = ""

    def _follow_answer(self) -> EventSpec | None:
        # This tab's follower from the previous answer is still there: a second one would only
        # take the state lock just when the first token needs it.
        return None if self._watching == self.current_id else ChatState.watch

    async def _start(self, user: User, text: str | None) -> EventSpec | list[EventSpec] | None:
        """Start the answer and follow it."""
        if not await self._start_run(user, text):
            return None
        await self._show_answer_starting(text)
        return self._follow_answer()

    @rx.event
    async def send(self, form: dict[str, str]) -> AsyncIterator[EventSpec | list[EventSpec] | None]:
        """The question (and a new conversation's row) shows first: the browser draws it while
        this handler checks the session, saves the question and asks the model, so the first
        token finds the page idle. Until the session is checked the tab sees only its own text."""
        text = str(form.get("message", ""))
        try:
            chat.validate_user_text(text)
        except ValidationFailed as exc:
            if await self._authenticate() is None:
                yield self._to_sign_in()
                return
            self.composer_error = exc.fields.get("message", exc.message)
            return
        self.composer_error = ""
        new_id = None if self.current_id else uuid.uuid4()
        # A tab showing an answer already (a second Enter) is refused by `start`, and keeps it.
        early = not self.streaming
        if early:
            if new_id is not None:
                self._show_new_conversation(new_id, text)
            await self._show_answer_starting(text)
            yield CLEAR_COMPOSER
        unsaved = new_id if early else None  # a conversation shown before it exists
        try:
            user = await self._authenticate()
            if user is None:
                if early:
                    self._take_back_question(unsaved)
                yield self._to_sign_in()
                return
            conversation = None
            if new_id is not None:
                # On SQLite a burst of writers can outlast the busy timeout: the whole unit is
                # retried rather than the message being dropped (seen with 100 users sending at
                # once); it is one commit, so a retry never saves it twice.
                conversation = await retry_when_locked(
                    lambda: self._open_conversation(user, new_id)
                )
                unsaved = None
                if not early:
                    self._show_new_conversation(new_id, text)
            follow = await self._start_answer(user, text, conversation, shown=early)
        except Exception:
            if early:
                self._take_back_question(unsaved)
                # The tab must not keep showing what was not saved; the text goes back.
                yield rx.set_value(COMPOSER_ID, text)
            raise
        yield follow

    async def _open_conversation(self, user: User, conversation_id: uuid.UUID) -> Conversation:
        """The conversation a first message opens, with this tab's tool and document switches."""
        async with session_scope() as db:
            return await chat.create_conversation(
                db,
                user,
                model=self.current_model,
                origin=self._origin(),
                conversation_id=conversation_id,
                disabled_tools=[t.name for t in self.tools if not t.enabled],
                use_documents=self.use_documents,
                collection_ids=self._chosen_collections(),
            )

    async def _start_answer(
        self, user: User, text: str, created: Conversation | None, *, shown: bool
    ) -> EventSpec | list[EventSpec] | None:
        """Start the answer (in `created`, a conversation just saved, if any) and follow it;
        show the question unless `send` has already."""
        if not await self._start_run(user, text, created):
            if shown:
                self._take_back_question()  # a new conversation stays: it was saved
                return rx.set_value(COMPOSER_ID, text)  # to be sent again or edited
            return None  # the composer still holds it
        events: list[EventSpec] = []
        if not shown:
            await self._show_answer_starting(text)
            events.append(CLEAR_COMPOSER)
        if created is None:
            follow = self._follow_answer()
            return [*events, follow] if follow is not None else events or None
        # Only the address changes: a navigation would reload the page state and cost time.
        return [
            *events,
            scripts.replace_address(f"/chat/{created.id}"),
            ChatState.watch,
        ]

    @rx.event
    async def stop(self) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        if self.current_id:
            try:
                await get_chat_runs().stop(user, uuid.UUID(self.current_id))
            except NotFound:
                return None
        return None

    @rx.event
    async def regenerate(self) -> EventSpec | list[EventSpec] | None:
        """Replace the last answer (also the retry after an error)."""
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        if not self.current_id or get_chat_runs().is_running(uuid.UUID(self.current_id)):
            return None
        try:
            async with session_scope() as db:
                await chat.remove_last_answer(db, user, uuid.UUID(self.current_id))
        except NotFound:
            return None
        return await self._start(user, None)

    # ---- conversation management -----------------------------------------------------------

    @rx.event
    def new_chat(self) -> EventSpec:
        self._clear_thread()
        return rx.redirect("/chat")

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

    async def _rename(self, conversation_id: str, title: str) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
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

    async def _delete(self, conversation_id: str) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
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

    @rx.event
    async def choose_model(self, model: str) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        self.current_model = model[:200]
        if self.current_id:
            async with session_scope() as db:
                await chat.set_model(db, user, uuid.UUID(self.current_id), self.current_model)
        return None

    @rx.event
    async def toggle_tool(self, name: str, enabled: bool) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        self.tools = [
            dataclasses.replace(t, enabled=enabled) if t.name == name else t for t in self.tools
        ]
        if self.current_id:
            disabled = [t.name for t in self.tools if not t.enabled]
            async with session_scope() as db:
                await chat.set_disabled_tools(db, user, uuid.UUID(self.current_id), disabled)
        return None

    def _chosen_collections(self) -> list[uuid.UUID]:
        return [uuid.UUID(c) for c in self.collections_chosen]

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

    async def _search_in(self, chosen: list[str]) -> EventSpec | None:
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
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
    async def toggle_documents(self, enabled: bool) -> EventSpec | None:
        """ "Use my documents": passages are retrieved before the model is asked."""
        user = await self._authenticate()
        if user is None:
            return self._to_sign_in()
        self.use_documents = bool(enabled)
        if self.current_id:
            async with session_scope() as db:
                await chat.set_use_documents(
                    db, user, uuid.UUID(self.current_id), self.use_documents
                )
        return None
