"""The share dialog: the owner's groups, one switch each, for a document or a conversation.

Its own state, apart from DocumentsState and ChatState: opening it or flipping a switch never
re-sends the document list or the chat thread.
"""

from __future__ import annotations

import dataclasses
import uuid

import reflex as rx
from reflex.event import EventSpec

from youworker.db import session_scope
from youworker.models import User
from youworker.services import runtime, sharing
from youworker.services.errors import ServiceError
from youworker.state.guards import signed_in
from youworker.state.session import SessionState

DOCUMENT = "document"
CONVERSATION = "conversation"
NOT_FOUND = {DOCUMENT: "Document not found.", CONVERSATION: sharing.CONVERSATION_NOT_FOUND}


@dataclasses.dataclass
class ShareOptionRow:
    group_id: str = ""
    name: str = ""
    shared: bool = False


class ShareDialogState(SessionState):
    share_kind: str = ""  # DOCUMENT, CONVERSATION, or "" while closed
    share_target: str = ""
    share_title: str = ""
    share_options: list[ShareOptionRow] = []
    share_error: str = ""

    async def _options(self, user: User) -> list[ShareOptionRow]:
        target = uuid.UUID(self.share_target)
        async with session_scope() as db:
            if self.share_kind == DOCUMENT:
                options = await sharing.document_share_options(db, user, target)
            else:
                options = await sharing.conversation_share_options(db, user, target)
        return [ShareOptionRow(str(o.group_id), o.name, o.shared) for o in options]

    @signed_in
    async def _open(self, user: User, kind: str, target: str, title: str) -> EventSpec | None:
        self.share_kind, self.share_target, self.share_title = kind, target, title[:200]
        self.share_error = ""
        try:
            # Opens (the kind is set) with the options in one update: never an empty dialog.
            self.share_options = await self._options(user)
        except (ServiceError, ValueError) as exc:
            self.share_kind = ""
            return rx.toast.error(getattr(exc, "message", NOT_FOUND[kind]))
        return None

    @rx.event
    async def open_document(self, document_id: str, name: str) -> EventSpec | None:
        return await self._open(DOCUMENT, document_id, name)

    @rx.event
    async def open_conversation(self, conversation_id: str, title: str) -> EventSpec | None:
        return await self._open(CONVERSATION, conversation_id, title)

    @rx.event
    def close(self) -> None:
        self.share_kind = ""

    @rx.event
    def open_changed(self, is_open: bool) -> None:
        if not is_open:
            self.share_kind = ""

    @rx.event
    @signed_in
    async def toggle(self, user: User, group_id: str, shared: bool) -> EventSpec | None:
        """Share with, or stop sharing with, one group; the switches then show the database."""
        kind = self.share_kind
        if kind not in NOT_FOUND:
            return None
        self.share_error = ""
        try:
            target, group = uuid.UUID(self.share_target), uuid.UUID(group_id)
            async with session_scope() as db:
                if kind == DOCUMENT:
                    await sharing.set_document_shared(
                        db,
                        user,
                        target,
                        group,
                        bool(shared),
                        runtime.get_vector_store(),
                        self._context(),
                    )
                else:
                    await sharing.set_conversation_shared(
                        db, user, target, group, bool(shared), self._context()
                    )
            self.share_options = await self._options(user)
        except (ServiceError, ValueError) as exc:
            self.share_error = getattr(exc, "message", NOT_FOUND[kind])
            return None
        if kind == DOCUMENT:
            # The list's "shared with" badge follows (DocumentsState imports this module).
            from youworker.state.documents import DocumentsState

            return DocumentsState.refresh  # type: ignore[return-value]
        return None
