"""What every part of the chat page shares: the open conversation and its thread."""

from __future__ import annotations

from youworker.db import session_scope
from youworker.models import Conversation, User
from youworker.services import chat
from youworker.services.chat.runs import RunSnapshot
from youworker.state.chat.live import LiveAnswerState
from youworker.state.chat.rows import MessageRow, message_rows
from youworker.state.session import SessionState

THREAD_PAGE = 50


class ChatCore(SessionState, mixin=True):
    """The open conversation. The chat page's mixins build on it; ChatState joins them."""

    current_id: str = ""
    current_title: str = ""
    current_model: str = ""
    not_found: bool = False
    messages: list[MessageRow] = []
    pending_messages: list[MessageRow] = []
    has_older: bool = False
    streaming: bool = False
    composer_error: str = ""
    _watching: str = ""

    def _origin(self) -> str:
        """This tab, as the origin of the changes it makes (its own echo is skipped)."""
        return self.router.session.client_token

    def _route_conversation(self) -> str:
        return self._route_arg("chat")

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

    def _lose_thread(self) -> None:
        """The open conversation is gone (deleted, or never this user's)."""
        self._clear_thread()
        self.not_found = True

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

    async def _load_sidebar(self, user: User, more: bool = False, keep: bool = False) -> None:
        raise NotImplementedError  # the conversation list's (ConversationList)
