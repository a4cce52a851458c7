"""The text of answers still being written, saved every couple of seconds, all in one go.

A crash (or a killed worker) then loses at most CHECKPOINT_SECONDS of an answer. One
transaction per interval writes every answer whose text grew since the last one: with a hundred
answers streaming on one worker, one statement each would be fifty transactions a second.
"""

from __future__ import annotations

import asyncio
import uuid

from youworker.logging import get_logger
from youworker.services.chat import answers

log = get_logger(__name__)

CHECKPOINT_SECONDS = 2.0


class Checkpoints:
    """Tracks the answers a worker is writing and saves their latest text periodically."""

    def __init__(self, every_s: float = CHECKPOINT_SECONDS) -> None:
        self._every_s = every_s
        self._tracked: set[uuid.UUID] = set()
        self._latest: dict[uuid.UUID, str] = {}  # the text not saved yet, per answer
        self._task: asyncio.Task[None] | None = None

    def track(self, message_id: uuid.UUID) -> None:
        """An answer started streaming here."""
        self._tracked.add(message_id)
        if (
            self._task is None
            or self._task.done()
            or self._task.get_loop() is not asyncio.get_running_loop()
        ):
            self._task = asyncio.create_task(self._run())

    def note(self, message_id: uuid.UUID, text: str) -> None:
        """The answer's text so far (called on every token: a dict assignment)."""
        if message_id in self._tracked:
            self._latest[message_id] = text

    def done(self, message_id: uuid.UUID) -> None:
        """The answer ended; its own final save follows."""
        self._tracked.discard(message_id)
        self._latest.pop(message_id, None)

    async def flush(self) -> int:
        """Save every answer's latest text in one transaction; returns how many."""
        if not self._latest:
            return 0
        pending, self._latest = self._latest, {}
        try:
            await answers.checkpoint(pending)
        except BaseException:
            # Kept for the next period, unless newer text (or the answer's end) came meanwhile.
            for message_id, text in pending.items():
                if message_id in self._tracked:
                    self._latest.setdefault(message_id, text)
            raise
        return len(pending)

    async def _run(self) -> None:
        while self._tracked:
            await asyncio.sleep(self._every_s)  # the checkpoint period, not a wait on others
            try:
                await self.flush()
            except Exception:  # the next period tries again with newer text
                log.exception("chat.checkpoint_failed", answers=len(self._tracked))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
