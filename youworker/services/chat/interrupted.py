"""How an answer cut by a dead worker reads: stopped, `interrupted` (answers.py saves it)."""

from __future__ import annotations

import uuid

from youworker.models import MessageStatus
from youworker.services.chat.snapshots import RunSnapshot

INTERRUPTED = "interrupted"


def interrupted_snapshot(
    conversation_id: uuid.UUID,
    message_id: uuid.UUID,
    model: str,
    previous: RunSnapshot | None,
    version: int,
) -> RunSnapshot:
    """What followers see: the answer as far as they had it, now stopped."""
    return RunSnapshot(
        conversation_id=str(conversation_id),
        message_id=str(message_id),
        model=model,
        text=previous.text if previous else "",
        thinking=previous.thinking if previous else "",
        tools=previous.tools if previous else (),
        status=MessageStatus.STOPPED,
        error_code=INTERRUPTED,
        error_message=None,
        version=version,
    )
