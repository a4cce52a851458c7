"""Notices that a user's conversation list changed, so every tab of theirs refreshes.

Each user has a version that goes up on every change, with the client that caused it (if any):
a tab that made the only change since it last looked has nothing to refresh. Versions are per
process; with a shared broker every change is also announced to the other workers.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

from youworker.services.broker import Broker

TOPIC = "conversations"


def answer_origin(conversation_id: uuid.UUID | str) -> str:
    """The origin of the change "an answer in this conversation ended": the tabs showing that
    conversation refresh on their own when they see the answer end."""
    return f"answer:{conversation_id}"


@dataclass
class _UserState:
    version: int = 0
    origin: str | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Change:
    version: int
    # The client that made the latest change, when exactly one change happened since `seen`.
    only_origin: str | None


class ConversationEvents:
    def __init__(self, broker: Broker | None = None) -> None:
        self._users: dict[uuid.UUID, _UserState] = {}
        self._broker: Broker | None = None
        if broker is not None:
            self.connect(broker)

    def connect(self, broker: Broker) -> None:
        """Share changes with the other workers through `broker` (once, at start)."""
        if self._broker is broker:
            return
        self._broker = broker
        broker.subscribe(TOPIC, self._on_remote)

    def _on_remote(self, message: str) -> None:
        user, _, origin = message.partition(" ")
        try:
            user_id = uuid.UUID(user)
        except ValueError:
            return
        self._bump(user_id, origin or None)

    def version(self, user_id: uuid.UUID) -> int:
        return self._users.setdefault(user_id, _UserState()).version

    def changed(self, user_id: uuid.UUID, origin: str | None = None) -> None:
        """Something in the user's list changed (created, renamed, deleted, answered)."""
        self._bump(user_id, origin)
        if self._broker is not None and self._broker.shared:
            self._broker.publish(TOPIC, f"{user_id} {origin or ''}")

    def _bump(self, user_id: uuid.UUID, origin: str | None) -> None:
        state = self._users.setdefault(user_id, _UserState())
        previous = state.changed
        state.version += 1
        state.origin = origin
        state.changed = asyncio.Event()
        previous.set()

    async def wait(self, user_id: uuid.UUID, seen: int, timeout_s: float) -> Change | None:
        """The change after version `seen`, or None when nothing changed within the timeout."""
        state = self._users.setdefault(user_id, _UserState())
        if state.version == seen:
            try:
                await asyncio.wait_for(state.changed.wait(), timeout_s)
            except TimeoutError:
                return None
            state = self._users[user_id]
        return Change(state.version, state.origin if state.version == seen + 1 else None)


conversation_events = ConversationEvents()
