"""Following the open conversation's answer, whichever tab or worker writes it."""

from __future__ import annotations

import asyncio
import time
import uuid

import reflex as rx

from youworker.db import session_scope
from youworker.services import chat
from youworker.services.errors import NotFound
from youworker.services.live_pace import live_pace
from youworker.services.runtime import get_chat_runs
from youworker.state.chat.core import ChatCore

WATCH_WAIT_SECONDS = 15.0
WATCH_IDLE_SECONDS = 600.0


class AnswerFollower(ChatCore, mixin=True):
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
            self._lose_thread()
            return
        await self._load_thread(user, conversation)
        self._clear_stream()
        await self._load_sidebar(user)
