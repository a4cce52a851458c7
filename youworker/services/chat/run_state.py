"""One answer being written (its text, tools and status as the agent loop goes), and the channel
its followers wait on."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field, replace

from youworker.models import MessageStatus
from youworker.services.chat import snapshots as run_snapshots
from youworker.services.chat.agent import (
    TextDelta,
    ThinkingDelta,
    ToolFinished,
    ToolStarted,
    TurnFinished,
    arguments_json,
)
from youworker.services.chat.snapshots import RunSnapshot, ToolCard
from youworker.services.documents.citations import CitationBook
from youworker.services.llm.base import Usage


@dataclass
class Run:
    """One answer being written by this process."""

    conversation_id: uuid.UUID
    owner_id: uuid.UUID
    message_id: uuid.UUID
    model: str
    # Grown by concatenation: each snapshot shares the text so far instead of joining pieces.
    text: str = ""
    thinking: str = ""
    tools: list[ToolCard] = field(default_factory=list)
    status: str = MessageStatus.STREAMING
    error_code: str | None = None
    error_message: str | None = None
    usage: Usage = field(default_factory=Usage)
    first_token_ms: int | None = None
    started: float = field(default_factory=time.perf_counter)
    stop_requested: bool = False
    task: asyncio.Task[None] | None = None
    citations: CitationBook = field(default_factory=CitationBook)
    claim: str = ""
    heartbeat: asyncio.Task[None] | None = None

    def snapshot(self, version: int) -> RunSnapshot:
        """What followers see of the answer now."""
        return RunSnapshot(
            conversation_id=str(self.conversation_id),
            message_id=str(self.message_id),
            model=self.model,
            text=self.text,
            thinking=self.thinking,
            tools=tuple(self.tools),
            status=self.status,
            error_code=self.error_code,
            error_message=self.error_message,
            version=version,
            citations=tuple(self.citations.citations()),
        )


class RunChannel:
    """Wakes followers of one conversation whenever something changes."""

    def __init__(self) -> None:
        self.version = 0
        self.run: Run | None = None
        self._last: RunSnapshot | None = None
        self._remote: str | None = None  # another worker's snapshot, decoded when read
        self.touched = time.monotonic()
        self._changed = asyncio.Event()

    @property
    def last(self) -> RunSnapshot | None:
        if self._remote is not None:
            self._last, self._remote = run_snapshots.decode(self._remote), None
        return self._last

    @last.setter
    def last(self, snapshot: RunSnapshot | None) -> None:
        self._last, self._remote = snapshot, None

    def set_remote(self, body: str) -> None:
        self._remote = body

    @property
    def remote_running(self) -> bool:
        """Another worker is writing the answer (as far as its latest snapshot says)."""
        snapshot = self.last
        return self.run is None and snapshot is not None and not snapshot.finished

    def bump(self) -> None:
        self.touched = time.monotonic()
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seen_version: int, timeout_s: float) -> bool:
        if self.version != seen_version:
            return True
        event = self._changed
        try:
            # asyncio.timeout, unlike wait_for, wraps no extra task around each wait.
            async with asyncio.timeout(timeout_s):
                await event.wait()
        except TimeoutError:
            return False
        return True


def apply_event(run: Run, event: object) -> None:
    """Fold one event of the agent loop into the answer."""
    if isinstance(event, TextDelta):
        run.text += event.text
    elif isinstance(event, ThinkingDelta):
        run.thinking += event.text
    elif isinstance(event, ToolStarted):
        run.tools.append(
            ToolCard(
                call_id=event.call_id,
                step=event.step,
                name=event.name,
                arguments=arguments_json(event.arguments),
                status="running",
            )
        )
    elif isinstance(event, ToolFinished):
        run.tools = [
            replace(
                card,
                status="ok" if event.ok else "error",
                output=event.output,
                error=event.error or "",
                duration_ms=event.duration_ms,
            )
            if card.call_id == event.call_id
            else card
            for card in run.tools
        ]
    elif isinstance(event, TurnFinished):
        run.usage = event.usage
        run.first_token_ms = event.first_token_ms
