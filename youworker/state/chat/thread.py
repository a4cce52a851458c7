"""ChatState: the chat page, joined from its parts; loading a conversation and sending."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import reflex as rx
from reflex.event import EventSpec

from youworker.db import retry_when_locked, session_scope
from youworker.models import Conversation, User
from youworker.services import chat
from youworker.services.documents import access
from youworker.services.errors import Conflict, NotFound, RateLimited, ValidationFailed
from youworker.services.runtime import get_chat_runs, get_config_sync
from youworker.settings import get_settings
from youworker.state import scripts
from youworker.state.chat.conversations import ConversationList
from youworker.state.chat.core import THREAD_PAGE, ChatCore
from youworker.state.chat.following import AnswerFollower
from youworker.state.chat.live import LiveAnswerState
from youworker.state.chat.rows import ConversationRow, message_rows, question_row
from youworker.state.chat.switches import Switches
from youworker.state.guards import signed_in
from youworker.state.session import SessionState
from youworker.state.times import iso_utc

COMPOSER_ID = "composer"
# The composer empties once a message is accepted; a refused one stays to be edited.
CLEAR_COMPOSER = rx.set_value(COMPOSER_ID, "")


class ChatState(ConversationList, Switches, AnswerFollower, ChatCore, SessionState):
    """The chat page: the conversation list, the switches and the live answer come from the
    mixins; the thread's loading and the send path are here. SessionState is named although
    ChatCore extends it: a class whose bases are all mixins is a mixin itself."""

    has_documents: bool = True  # until known: no upload hint flashes by

    @rx.var
    def message_limit(self) -> int:
        return get_settings().chat.max_message_chars

    @rx.var
    def shows_welcome(self) -> bool:
        """A new chat, before its first message."""
        return not (self.current_id or self.messages or self.pending_messages or self.streaming)

    @rx.var
    def last_answer_id(self) -> str:
        """Only the latest answer can be regenerated."""
        if self.streaming or not self.messages or self.messages[-1].role != "assistant":
            return ""
        return self.messages[-1].id

    @rx.event
    @signed_in
    async def load(self, user: User) -> EventSpec | list[EventSpec] | None:
        """on_load for /chat and /chat/<id>."""
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
            self._lose_thread()
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

    @rx.event
    @signed_in
    async def load_older(self, user: User) -> EventSpec | None:
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
            self._lose_thread()
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
                disabled_tools=self._disabled_tools(),
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
    @signed_in
    async def stop(self, user: User) -> EventSpec | None:
        if self.current_id:
            try:
                await get_chat_runs().stop(user, uuid.UUID(self.current_id))
            except NotFound:
                return None
        return None

    @rx.event
    @signed_in
    async def regenerate(self, user: User) -> EventSpec | list[EventSpec] | None:
        """Replace the last answer (also the retry after an error)."""
        if not self.current_id or get_chat_runs().is_running(uuid.UUID(self.current_id)):
            return None
        try:
            async with session_scope() as db:
                await chat.remove_last_answer(db, user, uuid.UUID(self.current_id))
        except NotFound:
            return None
        return await self._start(user, None)

    @rx.event
    def new_chat(self) -> EventSpec:
        self._clear_thread()
        return rx.redirect("/chat")
