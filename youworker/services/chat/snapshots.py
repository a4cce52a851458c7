"""What followers of an answer see: snapshots, and their wire form for other processes."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from youworker.models import MessageStatus
from youworker.services.documents.citations import Citation


@dataclass(frozen=True)
class ToolCard:
    call_id: str
    step: int
    name: str
    arguments: str
    status: str  # running | ok | error
    output: str = ""
    error: str = ""
    duration_ms: int | None = None


@dataclass(frozen=True)
class RunSnapshot:
    conversation_id: str
    message_id: str
    model: str
    text: str
    thinking: str
    tools: tuple[ToolCard, ...]
    status: str  # streaming | complete | stopped | error
    error_code: str | None
    error_message: str | None
    version: int
    citations: tuple[Citation, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status != MessageStatus.STREAMING


def encode(snapshot: RunSnapshot) -> str:
    """`<conversation id> <json>`: receivers find the conversation without parsing the rest."""
    return f"{snapshot.conversation_id} " + json.dumps(
        dataclasses.asdict(snapshot), ensure_ascii=False, separators=(",", ":")
    )


def split(message: str) -> tuple[str, str]:
    """The conversation id and the JSON of an encoded snapshot."""
    conversation_id, _, body = message.partition(" ")
    return conversation_id, body


def decode(body: str) -> RunSnapshot:
    data: dict[str, Any] = json.loads(body)
    data["tools"] = tuple(ToolCard(**card) for card in data.get("tools", ()))
    data["citations"] = tuple(Citation(**c) for c in data.get("citations", ()))
    return RunSnapshot(**data)
