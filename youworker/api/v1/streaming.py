"""Turning a running answer into a stream of events (NDJSON lines or server-sent events).

The run publishes snapshots (whole text so far, tool cards); a follower may see several
changes at once, so events are the difference between what was sent and the latest snapshot.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.sse import KEEPALIVE_COMMENT, format_sse_event

from youworker.db import session_scope
from youworker.logging import get_logger
from youworker.models import User
from youworker.services import chat
from youworker.services.chat import MessageView
from youworker.services.chat.runs import ChatRuns, RunSnapshot

log = get_logger(__name__)

KEEPALIVE_SECONDS = 15.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Event = tuple[str, dict[str, Any]]
Render = Callable[[MessageView], dict[str, Any]]


class _Sent:
    """What this follower has already sent."""

    def __init__(self) -> None:
        self.text = 0
        self.thinking = 0
        self.tools: dict[str, str] = {}  # call id -> last status sent

    def diff(self, snapshot: RunSnapshot) -> list[Event]:
        events: list[Event] = []
        if len(snapshot.thinking) > self.thinking:
            events.append(("thinking", {"text": snapshot.thinking[self.thinking :]}))
            self.thinking = len(snapshot.thinking)
        for card in snapshot.tools:
            if card.call_id not in self.tools:
                events.append(
                    (
                        "tool_call",
                        {
                            "id": card.call_id,
                            "step": card.step,
                            "name": card.name,
                            "arguments": _arguments(card.arguments),
                        },
                    )
                )
                self.tools[card.call_id] = "running"
            if card.status != "running" and self.tools[card.call_id] == "running":
                events.append(
                    (
                        "tool_result",
                        {
                            "id": card.call_id,
                            "name": card.name,
                            "ok": card.status == "ok",
                            "output": card.output,
                            "error": card.error or None,
                            "duration_ms": card.duration_ms,
                        },
                    )
                )
                self.tools[card.call_id] = card.status
        if len(snapshot.text) > self.text:
            events.append(("delta", {"text": snapshot.text[self.text :]}))
            self.text = len(snapshot.text)
        return events


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


async def follow(
    runs: ChatRuns,
    actor: User,
    conversation_id: uuid.UUID,
    answer_id: uuid.UUID,
    render: Render,
    keepalive_s: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[Event]:
    """Events of one answer until it ends, then `done` with the answer as saved."""
    yield "start", {"conversation_id": str(conversation_id), "message_id": str(answer_id)}
    sent = _Sent()
    while True:
        seen = runs.version(conversation_id)
        snapshot = runs.snapshot(conversation_id)
        if snapshot is None or snapshot.message_id != str(answer_id):
            break  # ours ended and a newer answer started: the saved one is below
        for event in sent.diff(snapshot):
            yield event
        if snapshot.finished:
            if snapshot.status == "error":
                yield "error", {"code": snapshot.error_code, "message": snapshot.error_message}
            break
        if await runs.wait_for_change(conversation_id, seen, keepalive_s) is None:
            yield "ping", {}
    async with session_scope() as db:
        view = await chat.get_message(db, actor, answer_id)
    yield "done", {"message": render(view)}


async def as_ndjson(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    async for name, data in events:
        yield (json.dumps({"type": name, **data}, ensure_ascii=False) + "\n").encode()


async def as_sse(events: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    async for name, data in events:
        if name == "ping":
            yield KEEPALIVE_COMMENT
            continue
        payload = json.dumps({"type": name, **data}, ensure_ascii=False)
        yield format_sse_event(event=name, data_str=payload)


async def final_message(events: AsyncIterator[Event]) -> dict[str, Any]:
    """Wait for the end and return the saved answer (for `Accept: application/json`)."""
    async for name, data in events:
        if name == "done":
            message: dict[str, Any] = data["message"]
            return message
    raise RuntimeError("the answer stream ended without its saved message")
